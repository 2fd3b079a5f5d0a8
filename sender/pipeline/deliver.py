"""Deliver one batch of one method: claim its pending rows, hand them to the method,
record every outcome in bulk, update the counters, and say what happened.

A claim is a conditional UPDATE that stamps the rows with a token and a lease, so two
workers never take the same row; rows whose lease expired (a crashed worker) can be
claimed again.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import sender_settings
from ..exceptions import DeliveryError
from ..methods import Outcome, methods
from ..methods.base import RETRY
from ..models import MessageRecipient, MessageSent
from . import progress

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status
FINAL = (Status.SUCCESS, Status.FAILED, Status.UNKNOWN)


def deliver_batch(sent_id: int, batch: int) -> float | None:
    """Deliver batch `batch` of MessageSent `sent_id`.

    Returns None when the batch is finished, or the delay in seconds after which it
    must run again (rows met a transient error and stay pending).
    """
    sent = MessageSent.objects.select_related("broadcast").get(pk=sent_id)
    if sent.status in (MessageSent.Status.CANCELLED, MessageSent.Status.DONE):
        return None
    token, now = uuid.uuid4(), timezone.now()
    claimed = MessageRecipient.objects.filter(
        Q(claim__isnull=True) | Q(lease_until__lt=now),
        message_sent_id=sent_id, batch=batch, status=Status.PENDING,
    ).update(claim=token, lease_until=now + timedelta(seconds=sender_settings.LEASE_SECONDS),
             attempts=F("attempts") + 1)
    if not claimed:
        return None
    if sent.status == MessageSent.Status.QUEUED:
        MessageSent.objects.filter(pk=sent_id, status=MessageSent.Status.QUEUED).update(status=MessageSent.Status.SENDING)
    rows = list(MessageRecipient.objects.filter(claim=token).only("id", "address", "code", "attempts", "segments"))
    method = methods[sent.method]
    try:
        outcomes = method.deliver(sent, rows)
    except DeliveryError as exc:
        logger.warning("broadcast=%s method=%s batch=%s: %s", sent.broadcast_id, sent.method, batch, exc.message)
        status = Status.FAILED if exc.permanent else RETRY
        outcomes = [Outcome(row.id, status, exc.message) for row in rows]
        retry_after = exc.retry_after
    else:
        retry_after = None
    return record(sent, rows, outcomes, method.unit_price, retry_after)


def record(sent: MessageSent, rows: Sequence[MessageRecipient], outcomes: Sequence[Outcome],
           price_per_segment: Decimal, retry_after: float | None = None) -> float | None:
    """Write outcomes: one UPDATE per (status, reason) group, counters with F() expressions."""
    by_id = {row.id: row for row in rows}
    max_attempts = sender_settings.MAX_ATTEMPTS
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    retrying = []
    for outcome in outcomes:
        status, reason = outcome.status, outcome.reason
        if status == RETRY:
            if by_id[outcome.row_id].attempts < max_attempts:
                retrying.append(outcome.row_id)
                status = Status.PENDING
            else:
                status = Status.FAILED
                reason = _("Gave up after %(n)d attempts: %(reason)s") % {"n": max_attempts, "reason": reason}
        groups[(status, reason)].append(outcome)
    now = timezone.now()
    delta: dict[str, int] = defaultdict(int)
    cost = Decimal(0)
    with transaction.atomic():
        for (status, reason), group in groups.items():
            ids = [o.row_id for o in group]
            fields = {"status": status, "reason": reason, "updated_at": now, "claim": None, "lease_until": None}
            if status in FINAL:
                fields["sent_at"] = now
            if status == Status.SUCCESS:
                segments = sum(by_id[i].segments for i in ids)
                cost += segments * price_per_segment
                if price_per_segment:
                    fields["cost"] = F("segments") * price_per_segment
            refs = {o.gateway_ref for o in group}
            if len(refs) == 1:
                fields["gateway_ref"] = next(iter(refs))
            MessageRecipient.objects.filter(pk__in=ids).update(**fields)
            if len(refs) > 1:
                _store_refs(group)
            if status != Status.PENDING:
                delta[status] += len(ids)
        done = sum(delta.values())
        if done:
            # One UPDATE moves the counters and, when nothing is left pending, finishes the method.
            finishing = Q(pending_count=done, status__in=[MessageSent.Status.QUEUED, MessageSent.Status.SENDING])
            MessageSent.objects.filter(pk=sent.pk).update(
                pending_count=F("pending_count") - done, cost=F("cost") + cost,
                status=Case(When(finishing, then=Value(MessageSent.Status.DONE)), default=F("status")),
                finished_at=Case(When(finishing, then=Value(now)), default=F("finished_at")),
                **{f"{status}_count": F(f"{status}_count") + n for status, n in delta.items()},
            )
    sent.refresh_from_db(fields=["status", "pending_count", "success_count", "failed_count", "unknown_count",
                                 "invalid_count", "duplicate_count", "cost"])
    progress.publish(sent)
    if not retrying:
        return None
    attempt = max(by_id[i].attempts for i in retrying)
    backoff = min(sender_settings.RETRY_BACKOFF * 2 ** (attempt - 1), sender_settings.RETRY_BACKOFF_MAX)
    return max(backoff, min(retry_after or 0, sender_settings.RETRY_BACKOFF_MAX))


def _store_refs(outcomes: Sequence[Outcome]) -> None:
    rows = [MessageRecipient(pk=o.row_id, gateway_ref=o.gateway_ref) for o in outcomes]
    MessageRecipient.objects.bulk_update(rows, ["gateway_ref"], batch_size=1000)
