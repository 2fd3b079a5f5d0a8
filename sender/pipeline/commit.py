"""Commit: write the broadcast and every recipient row in one transaction, then queue delivery;
for a large selection (and through the API) the rows are written by a task (`prepare`).

Rows go in a chunk at a time (rows.py) while the selection streams through, so memory
stays flat. The delivery tasks are queued inside the same transaction: with the database
task backend they become visible together with the rows, or not at all. The idempotency
key makes a repeated request return the broadcast it made; the same key with a different
request is refused (IdempotencyConflict), as Stripe and the IETF Idempotency-Key draft do.
"""

import hashlib
import json
import logging
from collections import Counter
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks_db.models import DBTaskResult

from sender.audience.resolve import Resolved, resolve, selected_queryset
from sender.audience.selection import Selection
from sender.channels import BaseMethod, Draft
from sender.conf import sender_settings
from sender.exceptions import IdempotencyConflict, InvalidMethod, SelectionError
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageTypology
from sender.pipeline import progress
from sender.pipeline.checks import load_methods, presend, require_sender
from sender.pipeline.classify import OPT_OUT_CHUNK, Classified, classify, suppressions_for
from sender.pipeline.dedupe import judge
from sender.pipeline.deliver import enqueue_batch
from sender.pipeline.rows import RowWriter
from sender.statements import insert
from sender.statuses import counter

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status


def commit(
    selection: Selection,
    user: AbstractBaseUser,
    method_aliases: Sequence[str],
    draft: Draft,
    idempotency_key: str,
    typology: MessageTypology | None = None,
    background: bool | None = None,
    *,
    recipients: Iterable[Resolved] | None = None,
    queue: bool = True,
    origin: str = Broadcast.Origin.BROADCAST,
    new_key: bool = False,
    billee: Model | None = None,
) -> Broadcast:
    """Create the broadcast, or return the one this key already created for this user from
    the same request (IdempotencyConflict if the request differs).

    With `background` (by default: when the selection counts more than
    `SENDER["COMMIT_IN_TASK_ABOVE"]` recipients) only the broadcast and its methods are
    written here, `preparing`; the recipient rows are written by `commit_task`, so the
    request that pressed Send answers at once whatever the size.

    `recipients` replaces resolving the selection (sender.direct passes bare addresses and
    records it was handed, already resolved; the selection is then empty). `queue=False`
    queues no delivery: the caller delivers the batches itself. `origin` tells a chat reply
    from a broadcast. `new_key` says the caller made the key up for this call (no earlier
    broadcast can hold it: the lookup is skipped). `billee` (any saved object) is who the cost report bills it to.

    Given `recipients`, they are classified before the transaction, so each MessageSent is
    written with its counters (and, with `queue=False`, already `sending`: the caller
    delivers at once), and the broadcast comes back holding its sents with their counters:
    sending one SMS from code costs a few statements, not two dozen."""
    require_sender(user)
    if not idempotency_key or len(idempotency_key) > 64:
        raise SelectionError(_("A send needs an idempotency key of at most 64 characters."))
    if recipients is not None:
        recipients = list(recipients)
    extra = {"recipients": [r[:3] for r in recipients]} if recipients is not None else {}
    if billee is not None:
        extra["billee"] = billee_key(billee)
    fingerprint = request_hash(selection, method_aliases, draft, typology, **extra)
    existing = None if new_key else _existing(idempotency_key, user, fingerprint)
    if existing:
        return existing
    loaded = load_methods(method_aliases)
    presend(loaded, draft)
    classified: list[Classified] | None = None
    counts: dict[str, Counter] | None = None
    if recipients is not None:
        background = False  # addresses handed over by code: written where the caller waits
        classified = list(classify(recipients, loaded))
        if not classified:
            raise SelectionError(empty_selection())
        counts = {m.alias: Counter() for m in loaded}
        for c in classified:
            counts[c.method][c.status] += 1
    elif background is None:
        background = names_more_than(selection, user, sender_settings.COMMIT_IN_TASK_ABOVE)
    try:
        with transaction.atomic():
            broadcast, sents = _create(selection, user, loaded, draft, idempotency_key, typology, fingerprint,
                                       preparing=background, origin=origin, counts=counts, sending=not queue, billee=billee)
            if background:
                commit_task.enqueue(broadcast.pk)  # visible with the broadcast, or not at all
            else:
                counts = _fill(sents, loaded, selection, user, classified)
                if not any(c.total() for c in counts.values()):
                    raise SelectionError(empty_selection())
                _finish(sents, counts, queue=queue, written=classified is not None)
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with its broadcast.
        existing = _existing(idempotency_key, user, fingerprint)
        if existing:
            return existing
        raise
    _hold_sents(broadcast, list(sents.values()))
    for sent in sents.values():
        if queue or not sent.pending_count:  # otherwise the caller's delivery publishes, a moment later
            progress.publish(sent)
    return broadcast


def _hold_sents(broadcast: Broadcast, sents: list[MessageSent]) -> None:
    """Let `broadcast.sents.all()` answer from the rows just written, as a prefetch would."""
    queryset = broadcast.sents.get_queryset()
    queryset._result_cache, queryset._prefetch_done = sents, True
    cache = getattr(broadcast, "_prefetched_objects_cache", {})
    cache[MessageSent._meta.get_field("broadcast").remote_field.cache_name] = queryset
    broadcast._prefetched_objects_cache = cache


def names_more_than(selection: Selection, user: AbstractBaseUser, limit: int) -> bool:
    """Whether the selection names more than `limit` recipients (related recipients are not
    counted). Each model's COUNT stops at what is still needed, so Send's request costs the
    same at a million as at `limit`. Checks visibility too, so a refused id is still answered
    in the request. The count is unordered: a model's default ordering inside the limited
    subquery made PostgreSQL sort the whole table to find the first rows (0.4 s at a million
    customers), where any `limit + 1` of them will do."""
    left = limit
    for part in selection.parts:
        left -= selected_queryset(part, user).order_by()[:left + 1].count()
        if left < 0:
            return True
    return False


def empty_selection() -> str:
    return _("The selection is empty: nobody matches it.")


@task()
def commit_task(broadcast_id: int) -> None:
    """The background half of a large send: write the rows, then queue delivery."""
    prepare(broadcast_id)


def prepare(broadcast_id: int) -> None:
    """Write the recipient rows of a `preparing` broadcast and queue its delivery.

    Idempotent under retries and crashes: it all happens in one transaction holding the
    broadcast's row lock, and only methods still `preparing` are filled; a crash rolls back
    every row, a second run (or a concurrent one, once the lock is free) finds nothing to do.
    A method cancelled while preparing keeps its rows, ended as cancelled, and is not queued."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().select_related("sender").get(pk=broadcast_id)
        sents = {sent.method: sent for sent in broadcast.sents.all()}
        if not any(sent.status == MessageSent.Status.PREPARING for sent in sents.values()):
            return
        try:
            loaded = load_methods(list(sents))
            counts = _fill(sents, loaded, Selection.parse(broadcast.selection), broadcast.sender)
            empty = not any(c.total() for c in counts.values())
            error = empty_selection() if empty else ""
        except (SelectionError, PermissionDenied, InvalidMethod) as exc:  # changed since Send: say so, never loop
            counts, error = {alias: Counter() for alias in sents}, "; ".join(map(str, getattr(exc, "errors", [exc])))
        if error:
            MessageSent.objects.filter(broadcast=broadcast, status=MessageSent.Status.PREPARING).update(
                status=MessageSent.Status.FAILED, error=error, finished_at=timezone.now())
            MessageRecipient.objects.filter(message_sent__broadcast=broadcast).delete()
        else:
            _finish(sents, counts, preparing=True)
    logger.info("broadcast prepared", extra={"broadcast": broadcast_id})
    for sent in MessageSent.objects.filter(broadcast_id=broadcast_id):
        progress.publish(sent)


def recover_preparing(older_than: float | None = None) -> int:
    """Queue again the preparation of broadcasts still `preparing` well after Send, with no
    task waiting for them (their worker died: django-tasks-db never re-runs it). Harmless if
    the first run is alive after all: `prepare` is idempotent and serialized by a row lock."""
    since = timezone.now() - timedelta(seconds=older_than if older_than is not None else sender_settings.LEASE_SECONDS)
    waiting = set(DBTaskResult.objects.filter(task_path=commit_task.module_path, status="READY")
                  .values_list("args_kwargs__args__0", flat=True))
    stuck = set(MessageSent.objects.filter(status=MessageSent.Status.PREPARING, created_at__lt=since)
                .values_list("broadcast_id", flat=True)) - waiting
    for broadcast_id in sorted(stuck):
        commit_task.enqueue(broadcast_id)
        logger.warning("re-queued the preparation of a broadcast left by a stopped worker",
                       extra={"broadcast": broadcast_id})
    return len(stuck)


def request_hash(selection: Selection, method_aliases: Sequence[str], draft: Draft,
                 typology: MessageTypology | None, **extra: Any) -> str:
    """SHA-256 of what a send asks for, in a canonical form (method and attachment order do
    not matter), stored with its idempotency key to tell a retry from a different request."""
    canonical = {
        "selection": selection.to_json(), "methods": sorted(set(method_aliases)),
        "typology": typology.pk if typology else None, "subject": draft.subject, "body": draft.body,
        "attachments": sorted(getattr(a, "pk", a) for a in draft.attachments),
        "transliterate": bool(draft.transliterate),
        **({"sender": draft.sender} if draft.sender else {}),
        **({"flash": True} if draft.flash else {}),
        **({} if draft.status_report else {"status_report": False}),
        **({"format": draft.format} if draft.format != "plain" else {}), **extra,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def check_same_request(stored_hash: str, fingerprint: str) -> None:
    """Refuse a key reused for another request (rows from before hashes were kept pass)."""
    if stored_hash and stored_hash != fingerprint:
        raise IdempotencyConflict(_("This idempotency key was already used for a different request; "
                                    "use a new key for a new message."))


def _existing(key: str, user: AbstractBaseUser, fingerprint: str) -> Broadcast | None:
    broadcast = Broadcast.objects.filter(idempotency_key=key).first()
    if broadcast and broadcast.sender_id != user.pk:
        raise SelectionError(_("This idempotency key was already used by someone else."))
    if broadcast:
        check_same_request(broadcast.request_hash, fingerprint)
    return broadcast


def billee_key(billee: Model) -> list:
    """[content type id, object id as text]: how a broadcast stores who it is billed to."""
    if billee.pk is None:
        raise SelectionError(_("The billee must be saved before it can be billed."))
    return [ContentType.objects.get_for_model(billee).pk, str(billee.pk)]


def _create(selection, user, loaded: list[BaseMethod], draft: Draft, key: str, typology, fingerprint: str,
            preparing: bool, origin: str = Broadcast.Origin.BROADCAST, counts: dict[str, Counter] | None = None,
            sending: bool = False, billee: Model | None = None) -> tuple[Broadcast, dict[str, MessageSent]]:
    billee_type_id, billee_id = billee_key(billee) if billee is not None else (None, "")
    # Written by sender.statements.insert rather than save(): the same row for less Python (a
    # send from code runs this every call); nothing in Sender listens to these models' save signals.
    broadcast = insert(Broadcast(
        idempotency_key=key, request_hash=fingerprint, typology=typology, subject=draft.subject, body=draft.body,
        sender=user, selection=selection.to_json(), origin=origin, billee_type_id=billee_type_id, billee_id=billee_id,
    ))
    if draft.attachments:
        broadcast.attachments.set(draft.attachments)
    status = MessageSent.Status.PREPARING if preparing else MessageSent.Status.QUEUED
    sents = {}
    for m in loaded:
        fields: dict[str, Any] = {"status": status}
        if counts is not None:  # known before writing: no UPDATE of the counters afterwards
            c = counts[m.alias]
            fields = {counter(s): n for s, n in c.items()}
            fields["status"] = ((MessageSent.Status.SENDING if sending else MessageSent.Status.QUEUED)
                                if c[Status.PENDING] else MessageSent.Status.DONE)
        sents[m.alias] = insert(MessageSent(broadcast=broadcast, method=m.alias, extra=m.sent_extra(draft), **fields))
    return broadcast, sents


def _fill(sents: dict[str, MessageSent], loaded: list[BaseMethod], selection: Selection,
          user: AbstractBaseUser, classified: list[Classified] | None = None) -> dict[str, Counter]:
    """Stream resolve → classify → insert, a chunk at a time (or insert what was classified
    already); the counts per method and status.

    While one chunk is written (COPY on PostgreSQL: the server fills the table and its
    indexes) the next one is classified, which is pure Python once the recipients it needs
    are read ahead and the opt-outs are loaded: server and Python overlap on two cores."""
    kinds = {m.address_field for m in loaded if m.address_field}
    counts = {alias: Counter() for alias in sents}
    batch_size = sender_settings.BATCH_SIZE
    segments = {alias: int(sent.extra.get("segments", 1)) for alias, sent in sents.items()}
    writer = RowWriter()
    sent_ids = {alias: sent.pk for alias, sent in sents.items()}

    def rows(classified: Iterable[Classified]) -> Iterator[tuple]:
        for c in classified:
            n = counts[c.method][c.status]
            counts[c.method][c.status] += 1
            valid = c.status == Status.PENDING
            yield writer.row(sent_ids[c.method], c.content_type_id, c.object_id, c.address, c.status, c.reason,
                             segments[c.method] if valid else 0, n // batch_size if valid else 0)

    if classified is not None:
        stream = rows(classified)
        while chunk := list(islice(stream, batch_size)):
            writer.insert(chunk)
        return counts
    suppressions = suppressions_for(loaded)
    # A chunk of rows needs at most batch_size recipients (each gives at least one row), and
    # classify reads them OPT_OUT_CHUNK at a time.
    ahead = ReadAhead(resolve(selection, user, kinds), batch_size + OPT_OUT_CHUNK)
    stream = rows(classify(ahead, loaded, suppressions))
    offline = suppressions.known is not None  # classifying asks the database nothing

    def next_chunk() -> list[tuple]:
        return list(islice(stream, batch_size))

    def next_chunk_offline() -> list[tuple]:
        with ahead.sealed():
            return next_chunk()

    chunk = next_chunk()
    while chunk:
        if offline:
            ahead.fill()  # the database reads the next chunk needs, before the COPY holds the connection
            chunk = writer.insert(chunk, meanwhile=next_chunk_offline)
        else:
            writer.insert(chunk)
            chunk = next_chunk()
    return counts


class ReadAhead:
    """An iterator that reads `size` items of `source` ahead on `fill()`, so that taking up to
    `size` items afterwards runs none of the source's queries (resolve reads recipients from
    a server-side cursor, which cannot fetch while a COPY is in progress)."""

    def __init__(self, source: Iterable, size: int):
        self.source = iter(source)
        self.size = size
        self.buffer: deque = deque()
        self.offline = False
        self.exhausted = False

    def fill(self) -> None:
        wanted = self.size - len(self.buffer)
        before = len(self.buffer)
        self.buffer.extend(islice(self.source, wanted))
        self.exhausted = len(self.buffer) - before < wanted

    @contextmanager
    def sealed(self) -> Iterator[None]:
        """While sealed, running out of read-ahead items is an error, never a query."""
        self.offline = True
        try:
            yield
        finally:
            self.offline = False

    def __iter__(self) -> "ReadAhead":
        return self

    def __next__(self):
        if self.buffer:
            return self.buffer.popleft()
        if self.exhausted:
            raise StopIteration
        if self.offline:
            raise RuntimeError("read ahead too short: the source would query the database during a COPY")
        return next(self.source)


def _finish(sents: dict[str, MessageSent], counts: dict[str, Counter], preparing: bool = False,
            queue: bool = True, written: bool = False) -> None:
    """Set each method's counters (unless `written` with the MessageSent, and no duplicate
    was revived) and queue its batches. A method cancelled while it was preparing is not
    queued: its rows end failed with the cancel's reason."""
    batch_size = sender_settings.BATCH_SIZE
    for alias, sent in sents.items():
        c = counts[alias]
        revived = 0
        if c[Status.DUPLICATE]:  # the database judges the duplicates classify's hashes found
            revived = judge(sent.pk, c[Status.PENDING] // batch_size)
            c[Status.PENDING] += revived
            c[Status.DUPLICATE] -= revived
        fields = {counter(status): n for status, n in c.items()}
        status = MessageSent.Status.QUEUED if c[Status.PENDING] else MessageSent.Status.DONE
        if written and c[Status.PENDING] and sent.status == MessageSent.Status.SENDING:
            status = MessageSent.Status.SENDING
        expected = (MessageSent.Status.PREPARING if preparing
                    else sent.status if written else MessageSent.Status.QUEUED)
        if written and not revived:
            pass  # the counters went in with the row
        elif not MessageSent.objects.filter(pk=sent.pk, status=expected).update(status=status, **fields):
            _cancelled_while_preparing(sent, c)
            continue
        else:
            sent.status = status
            for name, n in fields.items():
                setattr(sent, name, n)
        for batch in range((c[Status.PENDING] + batch_size - 1) // batch_size if queue else 0):
            enqueue_batch(alias, sent.pk, batch)


def _cancelled_while_preparing(sent: MessageSent, c: Counter) -> None:
    reason = MessageSent.objects.values_list("error", flat=True).get(pk=sent.pk)
    MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING).update(status=Status.FAILED,
                                                                                   reason=reason)
    MessageSent.objects.filter(pk=sent.pk).update(
        pending_count=0, failed_count=c[Status.PENDING], invalid_count=c[Status.INVALID],
        duplicate_count=c[Status.DUPLICATE])
