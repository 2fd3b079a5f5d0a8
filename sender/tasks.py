"""Background tasks (django.tasks). Module-level functions taking ids, as the backend needs."""

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from .pipeline import deliver


@task()
def deliver_batch(sent_id: int, batch: int) -> None:
    """Deliver one batch; if rows met a transient error, run again after the backoff."""
    delay = deliver.deliver_batch(sent_id, batch)
    if delay is not None:
        deliver_batch.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(sent_id, batch)


@task()
def poll_sms(alias: str) -> None:
    """Poll open SMS orders and fetch replies; run again while orders are open."""
    from .methods import methods
    from .pipeline import tracking

    if tracking.poll_round(alias):
        schedule_poll(alias, timezone.now() + timedelta(seconds=float(methods[alias].options["poll_interval"])))


def schedule_poll(alias: str, when) -> None:
    """Queue `poll_sms` for `when` (at once where the task backend cannot defer)."""
    runner = poll_sms.using(run_after=when) if poll_sms.get_backend().supports_defer else poll_sms
    runner.enqueue(alias)
