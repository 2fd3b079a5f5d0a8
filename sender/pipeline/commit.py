"""Commit: write the broadcast and every recipient row in one transaction, then queue delivery.

Rows go in a chunk at a time (rows.py) while the selection streams through, so memory
stays flat. The delivery tasks are queued inside the same transaction: with the database
task backend they become visible together with the rows, or not at all. The idempotency
key makes a repeated request return the broadcast it made; the same key with a different
request is refused (IdempotencyConflict), as Stripe and the IETF Idempotency-Key draft do.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sender.audience.resolve import resolve
from sender.audience.selection import Selection
from sender.channels import BaseMethod, Draft
from sender.conf import sender_settings
from sender.exceptions import IdempotencyConflict, SelectionError
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageTypology
from sender.pipeline import progress
from sender.pipeline.checks import load_methods, presend, require_sender
from sender.pipeline.classify import Classified, classify
from sender.pipeline.deliver import deliver_task
from sender.pipeline.rows import RowWriter

Status = MessageRecipient.Status


def commit(
    selection: Selection,
    user: AbstractBaseUser,
    method_aliases: Sequence[str],
    draft: Draft,
    idempotency_key: str,
    typology: MessageTypology | None = None,
    origin: str = Broadcast.Origin.BROADCAST,
) -> Broadcast:
    """Create the broadcast, or return the one this key already created for this user from
    the same request (IdempotencyConflict if the request differs). `origin` tells a chat
    reply from a broadcast."""
    require_sender(user)
    if not idempotency_key or len(idempotency_key) > 64:
        raise SelectionError(_("A send needs an idempotency key of at most 64 characters."))
    fingerprint = request_hash(selection, method_aliases, draft, typology)
    existing = _existing(idempotency_key, user, fingerprint)
    if existing:
        return existing
    loaded = load_methods(method_aliases)
    presend(loaded, draft)
    try:
        with transaction.atomic():
            broadcast = _write(selection, user, loaded, draft, idempotency_key, typology, fingerprint, origin)
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with its broadcast.
        existing = _existing(idempotency_key, user, fingerprint)
        if existing:
            return existing
        raise
    for sent in broadcast.sents.all():
        progress.publish(sent)
    return broadcast


def request_hash(selection: Selection, method_aliases: Sequence[str], draft: Draft,
                 typology: MessageTypology | None, **extra: Any) -> str:
    """SHA-256 of what a send asks for, in a canonical form (method and attachment order do
    not matter), stored with its idempotency key to tell a retry from a different request."""
    canonical = {
        "selection": selection.to_json(), "methods": sorted(set(method_aliases)),
        "typology": typology.pk if typology else None, "subject": draft.subject, "body": draft.body,
        "attachments": sorted(getattr(a, "pk", a) for a in draft.attachments),
        "transliterate": bool(draft.transliterate), **extra,
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


def _write(selection, user, loaded: list[BaseMethod], draft: Draft, key: str, typology, fingerprint: str,
           origin: str) -> Broadcast:
    broadcast = Broadcast.objects.create(
        idempotency_key=key, request_hash=fingerprint, typology=typology, subject=draft.subject, body=draft.body,
        sender=user, selection=selection.to_json(), origin=origin,
    )
    if draft.attachments:
        broadcast.attachments.set(draft.attachments)
    sents = {
        m.alias: MessageSent.objects.create(broadcast=broadcast, method=m.alias, extra=m.sent_extra(draft))
        for m in loaded
    }
    kinds = {m.address_field for m in loaded if m.address_field}
    counts = {alias: Counter() for alias in sents}
    batch_size = sender_settings.BATCH_SIZE
    segments = {m.alias: m.segments(draft) for m in loaded}
    writer = RowWriter()

    def rows(classified: Iterable[Classified]) -> Iterator[tuple]:
        for c in classified:
            n = counts[c.method][c.status]
            counts[c.method][c.status] += 1
            valid = c.status == Status.PENDING
            yield writer.row(sents[c.method].pk, c.content_type_id, c.object_id, c.address, c.status, c.reason,
                             segments[c.method] if valid else 0, n // batch_size if valid else 0)

    stream = rows(classify(resolve(selection, user, kinds), loaded))
    while chunk := list(islice(stream, batch_size)):
        writer.insert(chunk)

    if not any(c[Status.PENDING] + c[Status.INVALID] + c[Status.DUPLICATE] for c in counts.values()):
        raise SelectionError(_("The selection is empty: nobody matches it."))
    for alias, sent in sents.items():
        c = counts[alias]
        MessageSent.objects.filter(pk=sent.pk).update(
            pending_count=c[Status.PENDING], invalid_count=c[Status.INVALID], duplicate_count=c[Status.DUPLICATE],
            status=MessageSent.Status.QUEUED if c[Status.PENDING] else MessageSent.Status.DONE,
        )
        for batch in range((c[Status.PENDING] + batch_size - 1) // batch_size):
            deliver_task.enqueue(sent.pk, batch)
    return broadcast
