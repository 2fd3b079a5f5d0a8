"""Incoming SMS: replies fetched from the gateway, stored once (none lost in between), linked
to whoever sent them.

A reply is linked to the recipient row that last went to its number over the same method
(its recipient object and its MessageSent), found with two queries whatever the number
of replies. `message_received` fires once per page stored, after the commit.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max, Model, Q, QuerySet
from django.utils import timezone

from sender.access import visible_broadcasts
from sender.channels import methods
from sender.channels.sms.gateway import Received
from sender.channels.sms.models import GatewayState
from sender.exceptions import InvalidAddress
from sender.models import Broadcast, IncomingMessage, MessageRecipient, reply_address
from sender.signals import message_received

Status = MessageRecipient.Status
PAGE = 100
MAX_PAGES = 50
"""Pages read per round; a longer window goes on in the next round, from the page it reached."""
OVERLAP = timedelta(minutes=5)


def fetch_incoming(alias: str, backend) -> list[IncomingMessage]:
    """Read the SMS received since the last window, page by page, and store the new ones.

    Our read position (GatewayState.incoming_cursor: the window being read and its next page,
    or where the last complete window ended) moves in the same transaction that stores a
    page: a round killed after fetching and before storing reads that page again, and
    replies already stored are recognised by their gateway id. Each window starts OVERLAP
    before the previous one ended, for replies the gateway records late or a clock apart."""
    if not backend.supports_incoming:
        return []
    state, _created = GatewayState.objects.get_or_create(method=alias)
    cursor = dict(state.incoming_cursor)
    if "to" not in cursor:
        now = timezone.now()
        done = _moment(cursor.get("done")) or now - timedelta(hours=float(methods[alias].options["track_hours"]))
        cursor = {"from": (done - OVERLAP).isoformat(), "to": now.isoformat(), "page": 1}
    stored: list[IncomingMessage] = []
    for _turn in range(MAX_PAGES):
        page, more = backend.received(_moment(cursor["from"]), _moment(cursor["to"]), cursor["page"], PAGE)
        with transaction.atomic():
            stored.extend(store_incoming(alias, page))
            cursor = {**cursor, "page": cursor["page"] + 1} if more else {"done": cursor["to"]}
            GatewayState.objects.filter(pk=state.pk).update(incoming_cursor=cursor)
        if not more:
            break
    return stored


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def store_incoming(alias: str, received: list[Received]) -> list[IncomingMessage]:
    if not received:
        return []
    method = methods[alias]
    known = set(IncomingMessage.objects.filter(method=alias, gateway_id__in=[m.id for m in received])
                .values_list("gateway_id", flat=True))
    fresh = [m for m in {m.id: m for m in received}.values() if m.id not in known]
    if not fresh:
        return []
    numbers = {m.id: _normalized(method, m.sender) for m in fresh}
    links = _latest_rows(alias, set(numbers.values()))
    with transaction.atomic():
        IncomingMessage.objects.bulk_create([
            IncomingMessage(method=alias, gateway_id=m.id, sender=numbers[m.id], to=m.recipient[:32], text=m.text,
                            received_at=_when(m), **links.get(numbers[m.id], {}))
            for m in fresh
        ], ignore_conflicts=True)
        stored = list(IncomingMessage.objects.filter(method=alias, gateway_id__in=[m.id for m in fresh]))
        transaction.on_commit(lambda: message_received.send(sender=IncomingMessage, messages=stored))
    return stored


def _latest_rows(alias: str, numbers: set[str]) -> dict[str, dict]:
    """number → the recipient and MessageSent of the latest row sent to it over `alias`."""
    latest = (MessageRecipient.objects.filter(reply_address(), address__in=numbers, message_sent__method=alias)
              .exclude(status__in=[Status.INVALID, Status.DUPLICATE])
              .values("address").annotate(last=Max("id")).values_list("last", flat=True))
    rows = MessageRecipient.objects.filter(pk__in=list(latest)).values_list(
        "address", "content_type_id", "object_id", "message_sent_id")
    return {address: {"content_type_id": ct, "object_id": oid, "message_sent_id": sent}
            for address, ct, oid, sent in rows}


def _normalized(method, number: str) -> str:
    try:
        return method.normalize(number)
    except InvalidAddress:
        return number[:32]


def _when(message: Received):
    try:
        return timezone.make_aware(datetime.strptime(message.received_at, "%Y%m%d%H%M%S"))
    except ValueError:
        return timezone.now()


# -- for the pages --------------------------------------------------------------------------


def replies_for(broadcast: Broadcast) -> QuerySet[IncomingMessage]:
    """Replies to a broadcast, newest first, with their senders' records."""
    return (IncomingMessage.objects.filter(message_sent__broadcast=broadcast)
            .select_related("content_type").prefetch_related("recipient"))


def replies_from(obj: Model, user: AbstractBaseUser) -> QuerySet[IncomingMessage]:
    """Replies sent by one recipient object, to broadcasts `user` may see (or to none)."""
    ct = ContentType.objects.get_for_model(obj)
    return IncomingMessage.objects.filter(
        Q(message_sent__isnull=True) | Q(message_sent__broadcast__in=visible_broadcasts(user).values("pk")),
        content_type=ct, object_id=str(obj.pk),
    ).select_related("message_sent__broadcast")
