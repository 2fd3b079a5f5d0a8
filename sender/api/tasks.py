"""Background tasks of the API app (django.tasks; module-level, ids only)."""

from django.tasks import task

from . import scheduling


@task()
def start_scheduled(schedule_id: int) -> None:
    """Commit a scheduled broadcast when it is due; its delivery tasks are queued as for any send."""
    scheduling.start(schedule_id)
