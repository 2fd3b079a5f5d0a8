"""Deliver one batch of one method: claim its pending rows, hand them to the method a
chunk at a time, record every chunk's outcomes in bulk, update the counters.

Crash safety rests on three facts:

- A claim is a conditional UPDATE that stamps the rows with a token and a lease, so two
  workers never take the same row; rows whose lease expired (a crashed worker) can be
  claimed again, by any worker (`recover_expired` queues them).
- Outcomes are written after every chunk of `checkpoint_rows` rows, in id order, and in
  between each one is appended to the claim's crash journal (sender.pipeline.journal) the
  moment the gateway answered. When a worker dies, the next claimer reads its journal: the
  rows it proves taken are recorded, not sent again; of the rest, only those that were on
  the wire (email: the one message after the last journaled row; Telegram: the chats being
  sent to concurrently; SMS: one gateway order) are marked "may have been
  sent" (`sent_at` set on a pending row): they are sent again, and end `unknown` ("may have
  arrived twice") rather than `sent`. Without a readable journal (a worker on another
  machine) the first `CHECKPOINT_ROWS` of the rows left are marked instead. Rows with a
  recorded outcome are never sent again.
- Writes are guarded by the claim token: a worker that outlived its lease cannot
  overwrite the rows another worker took over, and counters move by what was written.

A worker asked to stop (SIGTERM) finishes the chunk in hand, releases the rest of the
batch and queues it again at once.
"""

import functools
import logging
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.channels import Outcome, methods
from sender.channels.base import RETRY, reporting_to
from sender.conf import sender_settings
from sender.exceptions import DeliveryError, InvalidMethod
from sender.models import MessageRecipient, MessageSent
from sender.pipeline import journal, progress
from sender.signals import batch_delivered
from sender.statements import Statement
from sender.statuses import TAKEN, WENT_OUT, FailureCode, counter

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status
FINAL = WENT_OUT
REFRESH = ["status", *MessageSent.COUNTERS, "cost"]
"""The fields of a MessageSent that delivering moves, read back before publishing progress."""
CONTINUE_NOW = 0.0
"""deliver_batch's answer when it released rows (shutdown): queue the batch again at once."""


def maybe_twice_reason() -> str:
    return _("Sent again after a worker stopped while sending it: it may have arrived twice.")


@dataclass
class Claim:
    """The rows one worker holds, and which of them may already have gone out once."""

    sent: MessageSent
    batch: int
    token: uuid.UUID
    rows: list[MessageRecipient]
    suspect: set[int]
    leased_at: float
    fresh: bool = False
    """The MessageSent in hand holds the counters as the last write left them."""


def deliver_batch(sent_id: int, batch: int, sent: MessageSent | None = None) -> float | None:
    """Deliver batch `batch` of MessageSent `sent_id`.

    Returns None when the batch is finished, or the delay in seconds after which it
    must run again (rows met a transient error, or were released on shutdown). A caller
    that holds the MessageSent (and its broadcast) as just written may pass it as `sent`,
    saving the read; it is kept up to date.
    """
    if sent is None or sent.pk != sent_id:
        sent = MessageSent.objects.select_related("broadcast").get(pk=sent_id)
    if sent.status in (MessageSent.Status.CANCELLED, MessageSent.Status.DONE, MessageSent.Status.FAILED,
                       MessageSent.Status.PAUSED):
        return None  # a paused method's batches are queued again when staff resume it
    try:
        method = methods[sent.method]
    except InvalidMethod as exc:  # removed from the settings after commit: end it, never loop
        fail_unconfigured(sent, exc)
        return None
    # The journal exists before the claim: a worker killed right after claiming leaves an empty
    # journal (nothing went out, at most the first row is marked), not no journal at all
    # (the whole first chunk marked).
    token = uuid.uuid4()
    log_file = journal.Journal(sent.pk, batch, token)
    try:
        claim = take(sent, batch, token)
    except BaseException:
        log_file.close(keep=True)  # the claim may have happened: the next claimer reads (and removes) it
        raise
    if claim is None:
        log_file.close()
        return None
    log = {"broadcast": sent.broadcast_id, "method": sent.method, "sent": sent.pk, "batch": batch}
    logger.info("batch claimed: %d rows (%d may have been sent before)", len(claim.rows), len(claim.suspect),
                extra={**log, "rows": len(claim.rows), "suspect": len(claim.suspect)})
    try:
        with reporting_to(log_file):
            delay, written = _deliver_claim(method, sent, claim, log_file, log)
    except BaseException:
        log_file.close(keep=True)  # rows may be left claimed: the next claimer reads what went out
        raise
    log_file.close()
    if not claim.fresh:  # the last write returned the counters otherwise
        sent.refresh_from_db(fields=REFRESH)
    progress.publish(sent)
    batch_delivered.send(sender=MessageSent, message_sent=sent)
    logger.info("batch done: %d rows recorded", written, extra={**log, "recorded": written, "retry_in": delay})
    return delay


def _deliver_claim(method, sent: MessageSent, claim: Claim, log_file: journal.Journal, log: dict
                   ) -> tuple[float | None, int]:
    """Send the claim's rows a chunk at a time, journaling what went out and recording each
    chunk; return (retry delay or None, rows written)."""
    size = checkpoint_rows(sent.method, sent)
    delay: float | None = None
    written = 0
    claim.fresh = False
    for start in range(0, len(claim.rows), size):
        if start and stop_requested():
            released = release(claim, claim.rows[start:])
            logger.warning("shutdown: released %d rows", released, extra={**log, "released": released})
            delay = CONTINUE_NOW
            claim.fresh = False
            break
        if start and is_paused(sent):  # another worker met the method's failure
            release(claim, claim.rows[start:])
            claim.fresh = False  # read the paused status back
            break
        renew(claim)
        chunk = claim.rows[start:start + size]
        try:
            outcomes, retry_after, stop = _deliver_chunk(method, sent, chunk, log)
        except DeliveryError as exc:  # the whole method failed: nothing of this chunk went out
            release(claim, claim.rows[start:])
            pause(sent, exc.message)
            claim.fresh = False  # read the paused status back
            break
        log_file.write(outcomes)  # what the method did not report as it went
        rest = claim.rows[start + size:] if stop else []
        if rest:  # the gateway is down or refused us: the rest of the batch shares the first chunk's fate
            last = outcomes[-1]
            outcomes += [Outcome(row.id, last.status, last.reason) for row in rest]
        chunk_delay, n = record(claim, chunk + rest, outcomes, method.unit_price, retry_after, publish=False)
        written += n
        progress.changed(sent.pk)
        if chunk_delay is not None:
            delay = chunk_delay if delay is None else max(delay, chunk_delay)
        if stop:
            break
    return delay, written


def _deliver_chunk(method, sent: MessageSent, chunk: list[MessageRecipient], log: dict
                   ) -> tuple[list[Outcome], float | None, bool]:
    """Outcomes for one chunk, the gateway's retry-after, and whether to stop the batch here."""
    try:
        outcomes = one_per_row(method.deliver(sent, chunk), chunk, log)
    except DeliveryError as exc:
        if exc.scope == DeliveryError.METHOD:
            raise
        logger.warning("%s", exc.message, extra={**log, "permanent": exc.permanent})
        status = Status.FAILED if exc.permanent else RETRY
        return [Outcome(row.id, status, exc.message) for row in chunk], exc.retry_after, True
    except ImproperlyConfigured:
        raise  # a configuration error is for staff to mend, not for the retry loop to hide
    except Exception as exc:  # a bug or bad data must not leave rows claimed forever: retry, then fail
        logger.exception("the %s method failed unexpectedly", sent.method, extra=log)
        reason = _("Internal error while sending (%(error)s).") % {"error": type(exc).__name__}
        return [Outcome(row.id, RETRY, reason) for row in chunk], None, True
    # A chunk that ends in a transient error met a broken connection or a busy server.
    stop = bool(outcomes) and outcomes[-1].status == RETRY
    return outcomes, None, stop


def one_per_row(outcomes: Sequence[Outcome], chunk: Sequence[MessageRecipient], log: dict) -> list[Outcome]:
    """Exactly one outcome per row of the chunk, in its order. A method that answers for a row
    twice, or not at all, has a bug: the extra answers are dropped and a missing one ends the
    row `unknown` (it may have gone out; sending it again could make a duplicate)."""
    by_row: dict[int, Outcome] = {}
    for outcome in outcomes:
        by_row.setdefault(outcome.row_id, outcome)
    if len(by_row) != len(outcomes) or by_row.keys() != {row.id for row in chunk}:
        logger.error("the method answered %d outcomes for %d rows", len(outcomes), len(chunk), extra=log)
    missing = _("The send method reported nothing for this row; it may or may not have been sent.")
    return [by_row.get(row.id) or Outcome(row.id, Status.UNKNOWN, missing) for row in chunk]


def fail_unconfigured(sent: MessageSent, error: Exception) -> int:
    """The method of `sent` is gone from the settings: every row still pending fails with the
    reason, the method ends `failed`, and nothing is sent or queued again."""
    reason = _("Not sent: %(error)s") % {"error": error}
    now = timezone.now()
    with transaction.atomic():
        n = MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING).update(
            status=Status.FAILED, reason=reason, reason_code=FailureCode.NOT_SENT, claim=None, lease_until=None,
            updated_at=now)
        MessageSent.objects.filter(pk=sent.pk).update(
            status=MessageSent.Status.FAILED, error=reason, finished_at=now,
            pending_count=F("pending_count") - n, failed_count=F("failed_count") + n)
    logger.error("%s", reason, extra={"broadcast": sent.broadcast_id, "method": sent.method, "sent": sent.pk,
                                        "failed": n})
    sent.refresh_from_db()
    progress.publish(sent)
    return n


def is_paused(sent: MessageSent) -> bool:
    return MessageSent.objects.filter(pk=sent.pk, status=MessageSent.Status.PAUSED).exists()


def pause(sent: MessageSent, reason: str) -> bool:
    """Pause the method with the reason: its rows stay pending, no batch runs until staff
    resume it (sender.pipeline.pause). False when it was no longer running (cancelled, paused)."""
    paused = MessageSent.objects.filter(
        pk=sent.pk, status__in=[MessageSent.Status.QUEUED, MessageSent.Status.SENDING],
    ).update(status=MessageSent.Status.PAUSED, error=reason)
    if paused:
        logger.warning("method paused: %s", reason, extra={"broadcast": sent.broadcast_id, "method": sent.method,
                                                           "sent": sent.pk})
    return bool(paused)


@task()
def deliver_task(sent_id: int, batch: int) -> None:
    """The background task: deliver one batch; if rows met a transient error, run again after the backoff."""
    delay = deliver_batch(sent_id, batch)
    if delay is not None:
        alias = MessageSent.objects.values_list("method", flat=True).get(pk=sent_id)
        enqueue_batch(alias, sent_id, batch, run_after=timezone.now() + timedelta(seconds=delay))


def enqueue_batch(alias: str, sent_id: int, batch: int, run_after: datetime | None = None) -> None:
    """Queue one batch on its method's own queue (named by the alias), so a slow method never
    holds up another: workers take every queue by default, or one each (`db_worker --queue-name sms`)."""
    deliver_task.using(queue_name=alias, run_after=run_after).enqueue(sent_id, batch)


def checkpoint_rows(alias: str, sent: MessageSent | None = None) -> int:
    """Rows sent between two writes of outcomes: the message's own (a send from code that
    waits for the gateway sets it, stored before any claim so a recovering worker reads the
    same), the method's CHECKPOINT_ROWS (SMS and Telegram keep it small: a duplicate costs
    money or annoys), else the global one (each checkpoint costs a few statements, so large
    broadcasts want it large)."""
    own = sent.extra.get("checkpoint_rows") if sent is not None else None
    return own or methods[alias].checkpoint_rows or sender_settings.CHECKPOINT_ROWS


CLAIM = Statement(MessageRecipient, """
    UPDATE {table} SET {claim} = %(claim)s, {lease_until} = %(lease_until)s, {attempts} = {attempts} + 1,
        {sent_at} = CASE WHEN {claim} IS NOT NULL AND {sent_at} IS NULL THEN %(now)s ELSE {sent_at} END
    WHERE {message_sent} = %(sent)s AND {batch} = %(batch)s AND {status} = %(pending)s
        AND ({claim} IS NULL OR {lease_until} < %(now)s) AND {attempts} < %(max_attempts)s
    RETURNING {columns}""", columns=["address", "code", "attempts", "segments", "sent_at"], index="recipient_batch_status")
"""Claim a batch's free rows (nobody holds them, or their holder's lease ran out), under
MAX_ATTEMPTS. A row still claimed by someone else was abandoned mid-batch: its `sent_at` is
stamped `now`, for take() to sort out."""


def take(sent: MessageSent, batch: int, token: uuid.UUID | None = None) -> Claim | None:
    """Claim the batch's pending rows that nobody holds (or whose holder's lease ran out),
    under `token` (a new one by default; deliver_batch opens its journal first)."""
    token, now = token or uuid.uuid4(), timezone.now()

    def free():  # built only when needed: a queryset costs more to build than the claim to run
        return MessageRecipient.objects.filter(Q(claim__isnull=True) | Q(lease_until__lt=now),
                                               message_sent_id=sent.pk, batch=batch, status=Status.PENDING)

    # A journal left behind means a worker stopped mid-batch: note who held which row before taking them.
    left = journal.left_for(sent.pk, batch, besides=token)
    holders = dict(free().filter(claim__isnull=False).values_list("id", "claim")) if left else {}
    # One statement claims the rows and reads them back, through the batch's index (the claim
    # token has none); written out once (sender.statements): it runs for every batch.
    rows = CLAIM.rows(claim=token, lease_until=now + timedelta(seconds=sender_settings.LEASE_SECONDS), now=now,
                      sent=sent.pk, batch=batch, pending=Status.PENDING, max_attempts=sender_settings.MAX_ATTEMPTS)
    if not rows:
        # Rows left only by workers that stopped MAX_ATTEMPTS times: end them, or they would wait forever.
        _give_up_exhausted(sent, free().filter(attempts__gte=sender_settings.MAX_ATTEMPTS), now)
        return None
    rows.sort(key=lambda row: row.id)
    if sent.status == MessageSent.Status.QUEUED:
        MessageSent.objects.filter(pk=sent.pk, status=MessageSent.Status.QUEUED).update(status=MessageSent.Status.SENDING)
        sent.status = MessageSent.Status.SENDING
    suspect = {row.id for row in rows if row.sent_at is not None and row.sent_at < now}
    abandoned = [row.id for row in rows if row.sent_at is not None and row.sent_at >= now]
    claim = Claim(sent, batch, token, rows, suspect, time.monotonic())
    if abandoned:
        _sort_abandoned(claim, abandoned, holders, left)
    return claim


def _give_up_exhausted(sent: MessageSent, rows, now: datetime) -> None:
    """Rows claimed MAX_ATTEMPTS times whose worker stopped each time end `unknown`, charged:
    sending them again could be one duplicate too many, and they may well have arrived."""
    reason = _("Gave up after %(n)d attempts: the worker stopped while sending it each time; "
               "it may or may not have arrived.") % {"n": sender_settings.MAX_ATTEMPTS}
    price = methods[sent.method].unit_price
    with transaction.atomic():
        segments = dict(rows.values_list("id", "segments"))
        if not segments:
            return
        n = MessageRecipient.objects.filter(pk__in=list(segments), status=Status.PENDING).update(
            status=Status.UNKNOWN, reason=reason, claim=None, lease_until=None, updated_at=now, sent_at=now,
            cost=F("segments") * price)
        _move_counters(sent, {Status.UNKNOWN: n}, sum(segments.values()) * price, now)
    logger.warning("%d rows given up after %d attempts", n, sender_settings.MAX_ATTEMPTS,
                   extra={"broadcast": sent.broadcast_id, "method": sent.method, "sent": sent.pk})


def _sort_abandoned(claim: Claim, abandoned: list[int], holders: dict[int, uuid.UUID],
                    left: list) -> None:
    """Sort the rows a stopped worker left: those its journal proves sent are recorded now
    (not sent again); those that were on the wire when it stopped may have gone out, so they
    are sent again marked (`claim.suspect`); the rest were never touched and count as fresh.

    Without a readable journal, the whole chunk it was sending (the first `checkpoint_rows`
    of what it left) may have gone out."""
    sent = claim.sent
    size = checkpoint_rows(sent.method, sent)
    method = methods[sent.method]
    records = {r.token: r for r in map(journal.read, left) if r is not None}
    by_holder: dict[uuid.UUID | None, list[int]] = defaultdict(list)
    for row_id in abandoned:  # in id order
        by_holder[holders.get(row_id)].append(row_id)
    suspect: list[int] = []
    untouched: list[int] = []
    settled: dict[int, Outcome] = {}
    for holder, ids in by_holder.items():
        found = records.get(holder)
        if found is None:
            suspect += ids[:size]
            untouched += ids[size:]
            continue
        # Every line written survives a killed process; after a reboot only the lines present are sure.
        wire = (method.in_flight or size) if found.complete else size
        last = found.last
        unreported = []
        for row_id in ids:
            outcome = found.outcomes.get(row_id)
            if outcome is None:
                unreported.append(row_id)
            elif outcome.status == RETRY:
                untouched.append(row_id)  # the gateway said "later": it did not go out
            else:
                settled[row_id] = outcome
        # Rows go out in id order, at most `wire` unanswered at once (email one, Telegram its
        # concurrency): those below the last reported one were in flight, and with them the
        # window is full. After a reboot the lines missing may be anywhere: a whole window more.
        before = [i for i in unreported if last is not None and i < last]
        after = [i for i in unreported if last is None or i > last]
        room = max(wire - len(before), 0) if found.complete else wire
        suspect += before + after[:room]
        untouched += after[room:]
    if untouched:
        MessageRecipient.objects.filter(pk__in=untouched).update(sent_at=None)
    claim.suspect |= set(suspect)
    if settled:
        done = [row for row in claim.rows if row.id in settled]
        outcomes = [settled[row.id] for row in done]
        record(claim, done, outcomes, method.unit_price, publish=False)
        method.recovered(sent, outcomes)  # e.g. SMS orders the dead worker never registered for polling
        claim.rows = [row for row in claim.rows if row.id not in settled]
    for found in records.values():  # read and recorded: nobody needs it, unless its worker still holds rows
        if not MessageRecipient.objects.filter(claim=found.token).exists():
            found.path.unlink(missing_ok=True)
    logger.warning("%d rows were abandoned by a stopped worker: %d recorded from its journal, %d may have been "
                   "sent", len(abandoned), len(settled), len(suspect),
                   extra={"broadcast": sent.broadcast_id, "method": sent.method, "sent": sent.pk,
                          "batch": claim.batch, "abandoned": len(abandoned), "journaled": len(settled),
                          "suspect": len(suspect)})


def renew(claim: Claim) -> None:
    """Extend the lease once half of it has passed, so a long batch is not taken over."""
    lease = sender_settings.LEASE_SECONDS
    if time.monotonic() - claim.leased_at < lease / 2:
        return
    MessageRecipient.objects.filter(message_sent_id=claim.sent.pk, batch=claim.batch, status=Status.PENDING,
                                    claim=claim.token).update(
        lease_until=timezone.now() + timedelta(seconds=lease))
    claim.leased_at = time.monotonic()


def release(claim: Claim, rows: Sequence[MessageRecipient]) -> int:
    """Give rows back untouched (their attempt does not count), for another worker."""
    return MessageRecipient.objects.filter(pk__in=[r.id for r in rows], claim=claim.token).update(
        claim=None, lease_until=None, attempts=F("attempts") - 1)


def stop_requested() -> bool:
    """True when the django-tasks-db worker running us was asked to stop (SIGTERM, Ctrl+C).

    Its signal handler is a bound method of the Worker, which clears `running`."""
    worker = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return worker is not None and getattr(worker, "running", True) is False


def record(claim: Claim, rows: Sequence[MessageRecipient], outcomes: Sequence[Outcome],
           price_per_segment: Decimal, retry_after: float | None = None, publish: bool = True
           ) -> tuple[float | None, int]:
    """Write outcomes: one UPDATE per (status, reason) group, counters with F() expressions.

    Only rows still under this claim are written. Returns (retry delay or None, rows written).
    """
    sent = claim.sent
    by_id = {row.id: row for row in rows}
    max_attempts = sender_settings.MAX_ATTEMPTS
    groups: dict[tuple[str, str, str, bool, bool, Decimal], list[Outcome]] = defaultdict(list)
    retrying = []
    for outcome in outcomes:
        status, reason, charged = outcome.status, outcome.reason, outcome.charged
        code = FailureCode.REFUSED if status == Status.FAILED else FailureCode.NONE
        suspect = outcome.row_id in claim.suspect
        if status == RETRY:
            if by_id[outcome.row_id].attempts < max_attempts:
                retrying.append(outcome.row_id)
                status = Status.PENDING
            else:
                status, code = Status.FAILED, FailureCode.NOT_SENT
                reason = _("Gave up after %(n)d attempts: %(reason)s") % {"n": max_attempts, "reason": reason}
        elif status in TAKEN and suspect:
            status, reason = Status.UNKNOWN, maybe_twice_reason()
        price = price_per_segment if outcome.unit_price is None else outcome.unit_price
        groups[(status, reason, code, suspect, charged, price)].append(outcome)
    now = timezone.now()
    delta: dict[str, int] = defaultdict(int)
    cost = Decimal(0)
    written = 0
    with transaction.atomic():
        for (status, reason, code, suspect, charged, price), group in groups.items():
            ids = [o.row_id for o in group]
            # sent_at: set when the row ends; cleared when it is pending again, unless a
            # suspect row keeps its mark until it ends.
            stamp = "now" if status in FINAL else "keep" if suspect else "clear"
            refs = {o.gateway_ref for o in group}
            n = _outcome_statement(stamp, bool(charged and price), len(refs) == 1).execute(
                ids=ids, token=claim.token, status=status, reason=reason, code=code, now=now, price=price,
                ref=next(iter(refs)) if len(refs) == 1 else "")
            if n != len(ids):  # our lease ran out and another worker took some of these rows
                ids = list(MessageRecipient.objects.filter(pk__in=ids, updated_at=now, status=status)
                           .values_list("id", flat=True))
                group = [o for o in group if o.row_id in set(ids)]
            if charged:
                cost += sum(by_id[i].segments for i in ids) * price
            if len(refs) > 1:
                _store_refs(group)
            written += n
            if status != Status.PENDING:
                delta[status] += n
        claim.fresh = _move_counters(sent, delta, cost, now)
    if publish:
        if not claim.fresh:
            sent.refresh_from_db(fields=REFRESH)
        progress.publish(sent)
    if not retrying:
        return None, written
    attempt = max(by_id[i].attempts for i in retrying)
    backoff = min(sender_settings.RETRY_BACKOFF * 2 ** (attempt - 1), sender_settings.RETRY_BACKOFF_MAX)
    return max(backoff, min(retry_after or 0, sender_settings.RETRY_BACKOFF_MAX)), written


MOVED = [name for name in MessageSent.COUNTERS if name != "pending_count"]
MOVE_COUNTERS = Statement(MessageSent, """
    UPDATE {table} SET {pending_count} = {pending_count} - %(done)s, {cost} = {cost} + %(cost)s,
        {status} = CASE WHEN {pending_count} = %(done)s AND {status} IN (%(running)s) THEN %(finished)s
                   ELSE {status} END,
        {finished_at} = CASE WHEN {pending_count} = %(done)s AND {status} IN (%(running)s) THEN %(now)s
                        ELSE {finished_at} END,
        """ + ", ".join(f"{{{name}}} = {{{name}}} + %({name})s" for name in MOVED) + """
    WHERE {id} = %(sent)s
    RETURNING {columns}""", columns=REFRESH)
"""Move `done` rows from pending to their final counters, add their cost, and finish the
method when that was the last of its pending rows (the SET sees the row as it was)."""


@functools.cache
def _outcome_statement(stamp: str, charge: bool, ref: bool) -> Statement:
    """The UPDATE that writes one group of outcomes, for rows still under this claim:
    `stamp` sets `sent_at` to now, clears it or keeps it; `charge` prices the row by its
    segments; `ref` sets the gateway reference the group shares."""
    sets = ["{status} = %(status)s", "{reason} = %(reason)s", "{reason_code} = %(code)s", "{updated_at} = %(now)s",
            "{claim} = NULL", "{lease_until} = NULL"]
    sets += {"now": ["{sent_at} = %(now)s"], "clear": ["{sent_at} = NULL"], "keep": []}[stamp]
    sets += ["{cost} = {segments} * %(price)s"] if charge else []
    sets += ["{gateway_ref} = %(ref)s"] if ref else []
    return Statement(MessageRecipient, f"UPDATE {{table}} SET {', '.join(sets)} "
                                       "WHERE {id} IN (%(ids)s) AND {claim} = %(token)s")


def _move_counters(sent: MessageSent, delta: dict[str, int], cost: Decimal, now: datetime) -> bool:
    """One UPDATE moves pending rows to their final counters and, when nothing is left
    pending, finishes the method; it returns the new counters into `sent` (True), so
    progress is published without reading them again."""
    done = sum(delta.values())
    if not done:
        return False
    moved = MOVE_COUNTERS.rows(
        sent=sent.pk, done=done, cost=cost, now=now, finished=MessageSent.Status.DONE,
        running=[MessageSent.Status.QUEUED, MessageSent.Status.SENDING],
        **{name: 0 for name in MOVED} | {counter(status): n for status, n in delta.items()})
    for fresh in moved:
        for name in REFRESH:
            setattr(sent, name, getattr(fresh, name))
    return bool(moved)


def _store_refs(outcomes: Sequence[Outcome]) -> None:
    rows = [MessageRecipient(pk=o.row_id, gateway_ref=o.gateway_ref) for o in outcomes]
    MessageRecipient.objects.bulk_update(rows, ["gateway_ref"], batch_size=1000)


def expired_batches(now: datetime | None = None) -> list[tuple[int, int, int]]:
    """(sent id, batch, broadcast id) of batches holding rows whose worker's lease ran out."""
    now = now or timezone.now()
    return list(MessageRecipient.objects.filter(status=Status.PENDING, claim__isnull=False, lease_until__lt=now)
                .values_list("message_sent_id", "batch", "message_sent__broadcast_id").distinct()
                .order_by("message_sent_id", "batch"))


def recover_expired() -> int:
    """Queue every batch a stopped worker left behind; return how many were queued.

    Run periodically (`manage.py sender_periodic`): django-tasks-db never re-runs a task
    whose worker died, so without this the rows would wait forever."""
    journal.sweep()
    found = expired_batches()
    for sent_id, batch, broadcast_id in found:
        enqueue_batch(MessageSent.objects.values_list("method", flat=True).get(pk=sent_id), sent_id, batch)
        logger.warning("re-queued a batch left by a stopped worker",
                       extra={"broadcast": broadcast_id, "sent": sent_id, "batch": batch})
    return len(found)
