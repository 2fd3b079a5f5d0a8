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
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
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
from sender.pipeline.classify import Classified, classify
from sender.pipeline.dedupe import judge
from sender.pipeline.deliver import enqueue_batch
from sender.pipeline.rows import RowWriter
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
    from a broadcast."""
    require_sender(user)
    if not idempotency_key or len(idempotency_key) > 64:
        raise SelectionError(_("A send needs an idempotency key of at most 64 characters."))
    if recipients is not None:
        recipients = list(recipients)
    extra = {"recipients": [r[:3] for r in recipients]} if recipients is not None else {}
    fingerprint = request_hash(selection, method_aliases, draft, typology, **extra)
    existing = _existing(idempotency_key, user, fingerprint)
    if existing:
        return existing
    loaded = load_methods(method_aliases)
    presend(loaded, draft)
    if recipients is not None:
        background = False  # addresses handed over by code: written where the caller waits
    elif background is None:
        background = estimate(selection, user) > sender_settings.COMMIT_IN_TASK_ABOVE
    try:
        with transaction.atomic():
            broadcast, sents = _create(selection, user, loaded, draft, idempotency_key, typology, fingerprint,
                                       preparing=background, origin=origin)
            if background:
                commit_task.enqueue(broadcast.pk)  # visible with the broadcast, or not at all
            else:
                counts = _fill(sents, loaded, selection, user, recipients)
                if not any(c.total() for c in counts.values()):
                    raise SelectionError(empty_selection())
                _finish(sents, counts, queue=queue)
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with its broadcast.
        existing = _existing(idempotency_key, user, fingerprint)
        if existing:
            return existing
        raise
    for sent in broadcast.sents.all():
        progress.publish(sent)
    return broadcast


def estimate(selection: Selection, user: AbstractBaseUser) -> int:
    """How many recipients the selection names (one COUNT per model; related recipients are
    not counted). Checks visibility too, so a refused id is still answered in the request."""
    return sum(selected_queryset(part, user).count() for part in selection.parts)


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


def _create(selection, user, loaded: list[BaseMethod], draft: Draft, key: str, typology, fingerprint: str,
            preparing: bool, origin: str = Broadcast.Origin.BROADCAST) -> tuple[Broadcast, dict[str, MessageSent]]:
    broadcast = Broadcast.objects.create(
        idempotency_key=key, request_hash=fingerprint, typology=typology, subject=draft.subject, body=draft.body,
        sender=user, selection=selection.to_json(), origin=origin,
    )
    if draft.attachments:
        broadcast.attachments.set(draft.attachments)
    status = MessageSent.Status.PREPARING if preparing else MessageSent.Status.QUEUED
    sents = {
        m.alias: MessageSent.objects.create(broadcast=broadcast, method=m.alias, extra=m.sent_extra(draft),
                                            status=status)
        for m in loaded
    }
    return broadcast, sents


def _fill(sents: dict[str, MessageSent], loaded: list[BaseMethod], selection: Selection,
          user: AbstractBaseUser, recipients: list[Resolved] | None = None) -> dict[str, Counter]:
    """Stream resolve → classify → insert, a chunk at a time; the counts per method and status."""
    kinds = {m.address_field for m in loaded if m.address_field}
    counts = {alias: Counter() for alias in sents}
    batch_size = sender_settings.BATCH_SIZE
    segments = {alias: int(sent.extra.get("segments", 1)) for alias, sent in sents.items()}
    writer = RowWriter()

    def rows(classified: Iterable[Classified]) -> Iterator[tuple]:
        for c in classified:
            n = counts[c.method][c.status]
            counts[c.method][c.status] += 1
            valid = c.status == Status.PENDING
            yield writer.row(sents[c.method].pk, c.content_type_id, c.object_id, c.address, c.status, c.reason,
                             segments[c.method] if valid else 0, n // batch_size if valid else 0)

    resolved = resolve(selection, user, kinds) if recipients is None else recipients
    stream = rows(classify(resolved, loaded))
    while chunk := list(islice(stream, batch_size)):
        writer.insert(chunk)
    return counts


def _finish(sents: dict[str, MessageSent], counts: dict[str, Counter], preparing: bool = False,
            queue: bool = True) -> None:
    """Set each method's counters and queue its batches. A method cancelled while it was
    preparing is not queued: its rows end failed with the cancel's reason."""
    batch_size = sender_settings.BATCH_SIZE
    for alias, sent in sents.items():
        c = counts[alias]
        if c[Status.DUPLICATE]:  # the database judges the duplicates classify's hashes found
            revived = judge(sent.pk, c[Status.PENDING] // batch_size)
            c[Status.PENDING] += revived
            c[Status.DUPLICATE] -= revived
        fields = {counter(status): n for status, n in c.items()}
        status = MessageSent.Status.QUEUED if c[Status.PENDING] else MessageSent.Status.DONE
        expected = MessageSent.Status.PREPARING if preparing else MessageSent.Status.QUEUED
        if not MessageSent.objects.filter(pk=sent.pk, status=expected).update(status=status, **fields):
            _cancelled_while_preparing(sent, c)
            continue
        for batch in range((c[Status.PENDING] + batch_size - 1) // batch_size if queue else 0):
            enqueue_batch(alias, sent.pk, batch)


def _cancelled_while_preparing(sent: MessageSent, c: Counter) -> None:
    reason = MessageSent.objects.values_list("error", flat=True).get(pk=sent.pk)
    MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING).update(status=Status.FAILED,
                                                                                   reason=reason)
    MessageSent.objects.filter(pk=sent.pk).update(
        pending_count=0, failed_count=c[Status.PENDING], invalid_count=c[Status.INVALID],
        duplicate_count=c[Status.DUPLICATE])
