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
def poll_sms(alias: str, token: str) -> None:
    """One turn of an SMS method's polling chain: delivery reports, replies, credits; then
    it queues itself again (pipeline/tracking.py says how only one chain ever runs)."""
    from .pipeline import tracking

    tracking.poll_task(alias, token)
