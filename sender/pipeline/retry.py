"""Retry failed: put the failed rows of one method back in the queue.

Used by the admin action and the broadcast page alike. Counters move with one UPDATE,
never a recount.

Which failures are worth paying for again: the pipeline already retries a transient error
(a timeout, a 4xx from SMTP, a rate limit) up to MAX_ATTEMPTS times, so a row that failed
*after* its attempts ran out failed for a transient reason; a row that failed before
(a refusal: BLACKLISTED, unknown recipient, a blocked bot) failed for good and would fail
and cost again. The broadcast page retries the transient ones unless asked for all.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Least
from django.utils import timezone

from sender.channels import methods
from sender.conf import sender_settings
from sender.models import MessageRecipient, MessageSent
from sender.pipeline import progress
from sender.pipeline.deliver import enqueue_batch

Status = MessageRecipient.Status


def _transient() -> Q:
    return Q(attempts__gte=sender_settings.MAX_ATTEMPTS)


@dataclass(frozen=True)
class FailedSplit:
    transient: int
    permanent: int
    transient_cost: Decimal
    """About what sending the transient ones again costs (their segments at today's price)."""
    all_cost: Decimal


def failed_split(sent: MessageSent) -> FailedSplit:
    """How the failed rows of `sent` divide into transient and permanent failures: one query."""
    counts = MessageRecipient.objects.filter(message_sent_id=sent.pk, status=Status.FAILED).aggregate(
        transient=Count("pk", filter=_transient()), permanent=Count("pk", filter=~_transient()),
        transient_segments=Sum("segments", filter=_transient()), segments=Sum("segments"))
    price = methods[sent.method].unit_price if sent.method in methods.settings else Decimal(0)
    return FailedSplit(counts["transient"] or 0, counts["permanent"] or 0,
                       price * max(counts["transient_segments"] or 0, counts["transient"] or 0),
                       price * max(counts["segments"] or 0, (counts["transient"] or 0) + (counts["permanent"] or 0)))


def retry_failed(sent: MessageSent, *, only_transient: bool = False) -> int:
    """Set the failed rows of `sent` (only those that failed for a transient reason, if
    asked) back to pending and queue their batches.

    Returns how many rows were re-queued (0 when none failed or the send was cancelled).
    The batches are queued once the transaction commits, so a worker never looks for
    rows that are not yet pending. Rows keep their attempt count, so every try stays on
    record; a row that had used every attempt gets one more (a worker claims only rows
    below MAX_ATTEMPTS, and would otherwise end it "unknown" untried).
    """
    with transaction.atomic():
        # Lock the MessageSent row: two clicks on "retry" must not both move the counters.
        locked = MessageSent.objects.select_for_update().get(pk=sent.pk)
        if locked.status == MessageSent.Status.CANCELLED:
            return 0
        failed: QuerySet = MessageRecipient.objects.filter(message_sent_id=sent.pk, status=Status.FAILED)
        if only_transient:
            failed = failed.filter(_transient())
        batches = sorted(set(failed.values_list("batch", flat=True).distinct()))
        count = failed.update(status=Status.PENDING, reason="", reason_code="", claim=None, lease_until=None, sent_at=None,
                              attempts=Least("attempts", Value(sender_settings.MAX_ATTEMPTS - 1)),
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
