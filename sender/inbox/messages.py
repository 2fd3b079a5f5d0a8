"""The inbox: stored messages delivered to a person's recipient records, and who read what.

A message is one `MessageSent` of a storage method; a person received it when one of their
records has a `delivered` row for it. Lists are keyed by the message, so a person linked to
two records that both received a broadcast still sees it once. Every function issues a
fixed number of queries, whatever the number of messages.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from sender.channels.registry import aliases_of
from sender.inbox.people import Records, addressed_to
from sender.models import MessageRecipient, MessageSent, MessageUserRead
from sender.signals import message_read

CHUNK = 5000


def storage_aliases() -> list[str]:
    """The configured methods that keep messages online (the storage backend or a subclass)."""
    return aliases_of("storage")


def received(records: Records) -> QuerySet[MessageRecipient]:
    """Rows through which `records` received a stored message."""
    return MessageRecipient.objects.filter(
        addressed_to(records), status=MessageRecipient.Status.DELIVERED, message_sent__method__in=storage_aliases(),
    )


def _read_by(user: AbstractBaseUser, ref: str) -> Exists:
    return Exists(MessageUserRead.objects.filter(message_sent=OuterRef(ref), user=user.pk))


def _one_record(records: Records) -> bool:
    """One record cannot receive a stored message twice (rows are deduplicated per message),
    so its rows need no DISTINCT, and newest first is the row id, which the index holds."""
    return sum(len(ids) for ids in records.values()) == 1


def message_ids(rows: QuerySet[MessageRecipient], records: Records) -> QuerySet:
    """The messages of `rows` once each, newest first (what the paginator slices)."""
    if _one_record(records):
        return rows.order_by("-pk").values_list("message_sent_id", flat=True)
    return rows.order_by("-message_sent_id").values_list("message_sent_id", flat=True).distinct()


def tally(rows: QuerySet[MessageRecipient], records: Records, user: AbstractBaseUser) -> tuple[int, int]:
    """(messages, unread messages) among `rows`, in one pass over them."""
    unread = ~_read_by(user, "message_sent")
    if _one_record(records):
        counts = rows.aggregate(total=Count("pk"), unread=Count("pk", filter=unread))
    else:
        counts = rows.aggregate(total=Count("message_sent", distinct=True),
                                unread=Count("message_sent", distinct=True, filter=unread))
    return counts["total"], counts["unread"]


def entries(ids: list[int], user: AbstractBaseUser) -> list[MessageSent]:
    """One page of the inbox, in the order of `ids`: the messages with their broadcast,
    attachments and `is_read`."""
    found = (MessageSent.objects.filter(pk__in=ids).select_related("broadcast__typology")
             .prefetch_related("broadcast__attachments").annotate(is_read=_read_by(user, "pk")))
    position = {pk: i for i, pk in enumerate(ids)}
    return sorted(found, key=lambda sent: position[sent.pk])


def unread_count(records: Records, user: AbstractBaseUser) -> int:
    if not records:
        return 0
    unread = received(records).filter(~_read_by(user, "message_sent"))
    return unread.count() if _one_record(records) else unread.values("message_sent").distinct().count()


def find_message(records: Records, sent_id: int) -> MessageSent | None:
    """The stored message `sent_id` if it reached one of `records`; None for anyone else's.

    The message carries `reader_text`: what this reader's row says they read (placeholders
    filled in for them), or the broadcast's body when the row keeps no text of its own."""
    if not records or not received(records).filter(message_sent_id=sent_id).exists():
        return None
    own = received(records).filter(message_sent=OuterRef("pk")).exclude(text="").order_by("pk").values("text")[:1]
    message = (MessageSent.objects.select_related("broadcast__typology", "broadcast__sender")
               .prefetch_related("broadcast__attachments").annotate(own_text=Subquery(own)).get(pk=sent_id))
    message.reader_text = message.own_text or message.broadcast.body
    return message


def mark_read(message: MessageSent, user: AbstractBaseUser) -> bool:
    """Record that `user` opened `message`; only the first time writes (True)."""
    _read, created = MessageUserRead.objects.get_or_create(message_sent=message, user=user)
    if created:
        _announce_read([message.pk], user)
    return created


def mark_all_read(records: Records, user: AbstractBaseUser) -> int:
    """Mark every unread message read, CHUNK at a time (two queries per chunk); a message
    read meanwhile in another tab is not an error."""
    if not records:
        return 0
    unread = received(records).filter(~_read_by(user, "message_sent")).order_by()
    unread = unread.values_list("message_sent_id", flat=True).distinct()
    written, previous = 0, None
    while (chunk := list(unread[:CHUNK])) and chunk != previous:
        MessageUserRead.objects.bulk_create(
            [MessageUserRead(message_sent_id=pk, user=user) for pk in chunk], ignore_conflicts=True,
        )
        _announce_read(chunk, user)
        written += len(chunk)
        previous = chunk
    return written


def _announce_read(sent_ids: list[int], user: AbstractBaseUser) -> None:
    """After the reads are committed, so a page that reloads on the news sees them."""
    transaction.on_commit(lambda: message_read.send(sender=MessageUserRead, message_sent_ids=sent_ids,
                                                    user_id=user.pk))
