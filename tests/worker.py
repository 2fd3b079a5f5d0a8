"""Run the real django-tasks-db worker in this process until no task is ready."""

from django_tasks_db.management.commands.db_worker import Worker


def run_worker(worker_id: str = "test-worker", queues: tuple[str, ...] = ("*",)) -> None:
    Worker(
        queue_names=list(queues), interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id=worker_id, excluded_queue_names=[],
    ).run()
