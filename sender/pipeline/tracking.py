"""After sending SMS: poll open orders for delivery reports, fetch replies.

`poll_round(alias)` is what the periodic task and `manage.py sms_poll` run. Orders are
claimed with a conditional UPDATE of `next_poll_at`, so two pollers never ask about the
same order at once. Row changes go through receipts.apply_receipts (one function).
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import DeliveryError, InvalidAddress
from ..gateways.skebby import Received, status_for
from ..methods import methods
from ..models import Broadcast, GatewayOrder, IncomingMessage, MessageRecipient
from ..signals import message_received
from .receipts import apply_receipts

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status


def sms_aliases() -> list[str]:
    """Configured methods that poll a gateway (those with a `backend()` for SMS)."""
    from ..methods.sms import SmsMethod

    return [alias for alias in methods if isinstance(methods[alias], SmsMethod)]


def poll_round(alias: str, limit: int = 200) -> int:
    """Poll due orders and fetch replies once; return how many orders are still open."""
    try:
        poll_orders(alias, limit)
        fetch_incoming(alias)
    except DeliveryError as exc:
        logger.warning("SMS polling for %s stopped this round: %s", alias, exc.message)
    return GatewayOrder.objects.filter(message_sent__method=alias, open=True).count()


def poll_orders(alias: str, limit: int = 200) -> int:
    """Ask the gateway about each due order; return how many rows changed status."""
    method = methods[alias]
    interval = timedelta(seconds=float(method.options["poll_interval"]))
    track_for = timedelta(hours=float(method.options["track_hours"]))
    now = timezone.now()
    due = GatewayOrder.objects.filter(message_sent__method=alias, open=True, next_poll_at__lte=now)
    changed = 0
    with method.backend() as backend:
        for order in due.order_by("next_poll_at")[:limit]:
            claimed = GatewayOrder.objects.filter(pk=order.pk, next_poll_at=order.next_poll_at).update(
                next_poll_at=now + interval, polled_at=now)
            if not claimed:
                continue  # another poller has it
            states = backend.states(order.order_id)
            expired = now - order.created_at > track_for
            receipts, still_open = _receipts(order, states, expired)
            changed += apply_receipts(receipts)
            if not still_open:
                GatewayOrder.objects.filter(pk=order.pk).update(open=False)
    return changed


def _receipts(order: GatewayOrder, states: dict[str, str] | None, expired: bool) -> tuple[dict, bool]:
    """{row code: (status, reason)} for the rows of one order, and whether any is still open."""
    by_number = {number.lstrip("+"): state for number, state in (states or {}).items()}
    receipts, still_open = {}, False
    rows = MessageRecipient.objects.filter(message_sent_id=order.message_sent_id, gateway_ref=order.order_id)
    for code, address in rows.values_list("code", "address"):
        state = by_number.get(address.lstrip("+"))
        status = status_for(state) if state else Status.PENDING
        if states is None:
            receipts[code] = (Status.UNKNOWN, _("The gateway does not know order %(order)s.") % {"order": order.order_id})
        elif status == Status.PENDING and expired:
            receipts[code] = (Status.UNKNOWN, _("No delivery report from the gateway in time (last state: %(state)s).")
                              % {"state": state or _("none")})
        elif status == Status.PENDING:
            still_open = True
        elif status == Status.SUCCESS:
            receipts[code] = (Status.SUCCESS, "")
        else:
            receipts[code] = (status, _("The gateway reported %(state)s.") % {"state": state})
    return receipts, still_open


def fetch_incoming(alias: str) -> list[IncomingMessage]:
    """Store SMS received since the last call, each linked to the recipient whose number
    sent it and the latest message sent to that number over this method."""
    method = methods[alias]
    with method.backend() as backend:
        received = backend.received()
    if not received:
        return []
    numbers = {m.id: _normalized(method, m.sender) for m in received}
    latest: dict[str, tuple[int, str, int]] = {}
    rows = (MessageRecipient.objects.filter(address__in=set(numbers.values()), message_sent__method=alias)
            .exclude(status__in=[Status.INVALID, Status.DUPLICATE]).order_by("address", "-id")
            .values_list("address", "content_type_id", "object_id", "message_sent_id"))
    for address, ct_id, object_id, sent_id in rows:
        latest.setdefault(address, (ct_id, object_id, sent_id))
    messages = []
    for m in received:
        ct_id, object_id, sent_id = latest.get(numbers[m.id], (None, "", None))
        messages.append(IncomingMessage(
            method=alias, gateway_id=m.id, sender=numbers[m.id], to=m.recipient, text=m.text,
            received_at=_when(m), content_type_id=ct_id, object_id=object_id, message_sent_id=sent_id,
        ))
    IncomingMessage.objects.bulk_create(messages, ignore_conflicts=True)
    stored = list(IncomingMessage.objects.filter(method=alias, gateway_id__in=[m.id for m in received]))
    message_received.send(sender=IncomingMessage, messages=stored)
    return stored


def _normalized(method, number: str) -> str:
    try:
        return method.normalize(number)
    except InvalidAddress:
        return number[:32]


def _when(message: Received) -> datetime:
    try:
        return timezone.make_aware(datetime.strptime(message.received_at, "%Y%m%d%H%M%S"))
    except ValueError:
        return timezone.now()


def replies_for(broadcast: Broadcast) -> QuerySet[IncomingMessage]:
    """Replies to a broadcast, newest first, with their senders' records."""
    return IncomingMessage.objects.filter(message_sent__broadcast=broadcast).prefetch_related("recipient")


def replies_from(objects: Iterable) -> QuerySet[IncomingMessage]:
    """Replies sent by these recipient objects (for a recipient's history)."""
    objects = list(objects)
    if not objects:
        return IncomingMessage.objects.none()
    ct = ContentType.objects.get_for_model(objects[0])
    return IncomingMessage.objects.filter(content_type=ct, object_id__in=[str(o.pk) for o in objects])
