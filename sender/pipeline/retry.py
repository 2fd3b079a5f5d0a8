"""Retry failed: put exactly the failed rows of one method back in the queue.

Used by the admin action and the broadcast page alike. Rows keep their attempt count,
so every try stays on record; counters move with one UPDATE, never a recount.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sender.models import MessageRecipient, MessageSent
from sender.pipeline import progress
from sender.pipeline.deliver import enqueue_batch

Status = MessageRecipient.Status


def retry_failed(sent: MessageSent) -> int:
    """Set the failed rows of `sent` back to pending and queue their batches.

    Returns how many rows were re-queued (0 when none failed or the send was cancelled).
    The batches are queued once the transaction commits, so a worker never looks for
    rows that are not yet pending.
    """
    with transaction.atomic():
        # Lock the MessageSent row: two clicks on "retry" must not both move the counters.
        locked = MessageSent.objects.select_for_update().get(pk=sent.pk)
        if locked.status == MessageSent.Status.CANCELLED:
            return 0
        failed = MessageRecipient.objects.filter(message_sent_id=sent.pk, status=Status.FAILED)
        batches = sorted(set(failed.values_list("batch", flat=True).distinct()))
        count = failed.update(status=Status.PENDING, reason="", reason_code="", claim=None, lease_until=None, sent_at=None,
                              updated_at=timezone.now())
        if not count:
            return 0
        MessageSent.objects.filter(pk=sent.pk).update(
            pending_count=F("pending_count") + count, failed_count=F("failed_count") - count,
            status=MessageSent.Status.QUEUED, error="", finished_at=None,
        )
        transaction.on_commit(lambda: [enqueue_batch(sent.method, sent.pk, batch) for batch in batches])
    sent.refresh_from_db()
    progress.publish(sent)
    return count
