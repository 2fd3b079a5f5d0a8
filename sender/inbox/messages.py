"""The inbox: stored messages delivered to a person's recipient records, and who read what.

A message is one `MessageSent` of a storage method; a person received it when one of their
records has a `success` row for it. Lists are keyed by the message, so a person linked to
two records that both received a broadcast still sees it once. Every function issues a
fixed number of queries, whatever the number of messages.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, QuerySet

from ..methods import methods
from ..methods.storage import StorageMethod
from ..models import Broadcast, MessageRecipient, MessageSent, MessageUserRead
from .people import Records, addressed_to

CHUNK = 5000


def storage_aliases() -> list[str]:
    """The configured methods that keep messages online (the storage backend or a subclass)."""
    return [alias for alias in methods.settings if isinstance(methods[alias], StorageMethod)]


def received(records: Records) -> QuerySet[MessageRecipient]:
    """Rows through which `records` received a stored message."""
    return MessageRecipient.objects.filter(
        addressed_to(records), status=MessageRecipient.Status.SUCCESS, message_sent__method__in=storage_aliases(),
    )


def _read_by(user: AbstractBaseUser, ref: str) -> Exists:
    return Exists(MessageUserRead.objects.filter(message_sent=OuterRef(ref), user=user.pk))


def message_ids(rows: QuerySet[MessageRecipient]) -> QuerySet:
    """The messages of `rows` once each, newest first (what the paginator slices)."""
    return rows.order_by("-message_sent_id").values_list("message_sent_id", flat=True).distinct()


def entries(ids: list[int], user: AbstractBaseUser) -> list[MessageSent]:
    """One page of the inbox: the messages with their broadcast, attachments and `is_read`."""
    return list(
        MessageSent.objects.filter(pk__in=ids)
        .select_related("broadcast__typology")
        .prefetch_related("broadcast__attachments")
        .annotate(is_read=_read_by(user, "pk"))
        .order_by("-pk")
    )


def unread_count(records: Records, user: AbstractBaseUser) -> int:
    if not records:
        return 0
    return message_ids(received(records).filter(~_read_by(user, "message_sent"))).count()


def find_message(records: Records, sent_id: int) -> MessageSent | None:
    """The stored message `sent_id` if it reached one of `records`; None for anyone else's."""
    if not records or not received(records).filter(message_sent_id=sent_id).exists():
        return None
    return (MessageSent.objects.select_related("broadcast__typology", "broadcast__sender")
            .prefetch_related("broadcast__attachments").get(pk=sent_id))


def mark_read(message: MessageSent, user: AbstractBaseUser) -> bool:
    """Record that `user` opened `message`; only the first time writes (True)."""
    _read, created = MessageUserRead.objects.get_or_create(message_sent=message, user=user)
    return created


def mark_all_read(records: Records, user: AbstractBaseUser) -> int:
    """Mark every unread message read, in chunks; a concurrent read is not an error."""
    if not records:
        return 0
    unread: Iterator[int] = message_ids(received(records).filter(~_read_by(user, "message_sent"))).iterator(CHUNK)
    written = 0
    while chunk := list(islice(unread, CHUNK)):
        MessageUserRead.objects.bulk_create(
            [MessageUserRead(message_sent_id=pk, user=user) for pk in chunk], ignore_conflicts=True,
        )
        written += len(chunk)
    return written


@dataclass
class ReadShare:
    """Staff's view of one stored message: how many of those who got it opened it, and who."""

    sent: MessageSent
    reads: int
    latest: list[MessageUserRead] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return self.reads / self.sent.success_count if self.sent.success_count else None


def read_shares(broadcast: Broadcast, limit: int = 50) -> list[ReadShare]:
    """Per storage method of `broadcast`: read count, share of delivered, latest readers."""
    aliases = storage_aliases()
    shares = []
    for sent in broadcast.sents.all():
        if sent.method not in aliases:
            continue
        reads = sent.reads.select_related("user").order_by("-read_at")
        shares.append(ReadShare(sent, reads.count(), list(reads[:limit])))
    return shares
