"""After sending SMS: poll open orders for delivery reports, fetch replies, note the credit.

One polling task per SMS method runs while the method is configured: `poll_sms(alias,
token)` polls once, then queues itself again. Exactly one queued task holds the current
token on the method's GatewayState row; a task whose token was replaced just ends, so
`ensure_polling` can always start a fresh chain when the old one looks dead (its next run
is long overdue) without ever leaving two chains running.

Orders are claimed with a conditional UPDATE of `next_poll_at`, so two pollers never ask
about the same order at once. Row changes go through receipts.apply_receipts (one function).
"""

import functools
import logging
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.channels import methods
from sender.channels.registry import aliases_of
from sender.channels.sms import gateways
from sender.channels.sms.gateway import describe, status_for
from sender.channels.sms.incoming import fetch_incoming
from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.exceptions import DeliveryError
from sender.models import MessageRecipient
from sender.receipts import apply_receipts
from sender.statements import Statement

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status
MIN_DELAY = timedelta(seconds=1)
STALE_AFTER = timedelta(minutes=10)
"""A chain whose next run is this much overdue (plus a few intervals) is taken for dead."""
ORDERS_PER_ROUND = 500
KEY = re.compile(r"[A-Za-z0-9_]+")
"""Message types whose credit can be set in place (a key safe in a JSON path)."""


def sms_aliases() -> list[str]:
    """Configured methods that talk to an SMS gateway."""
    return aliases_of("sms")


def interval(alias: str) -> timedelta:
    return timedelta(seconds=max(float(methods[alias].options["poll_interval"]), 0))


# -- the polling chain ----------------------------------------------------------------------


def ensure_polling(alias: str, known: tuple | None = None) -> bool:
    """Start the polling task for `alias` unless a live one holds the token. True if started.

    A plain read first (or `known`: the (poll_token, poll_due_at) a caller just read back):
    after every send the chain is almost always alive, and that needs no lock; the lock is
    taken, and the state read again under it, only to start a chain."""
    now = timezone.now()
    if known is None:
        known = GatewayState.objects.filter(method=alias).values_list("poll_token", "poll_due_at").first()
    if known is not None and _alive(alias, *known, now=now):
        return False
    with transaction.atomic():
        state, _created = GatewayState.objects.select_for_update().get_or_create(method=alias)
        if _alive(alias, state.poll_token, state.poll_due_at, now=now):
            return False
        _queue(state, now)
    return True


def _alive(alias: str, token, due_at, now) -> bool:
    return bool(token and due_at and due_at > now - STALE_AFTER - 4 * interval(alias))


def after_send(alias: str, credits: dict[str, int] | None, track: bool) -> None:
    """What a send leaves behind: the credit the gateway reported, and a live polling chain
    when orders wait for delivery reports. Usually one statement: the credit is set inside
    the database (no read, no lock) and the same UPDATE returns the polling token."""
    known = None
    if credits:
        known = _set_credits(alias, credits)
        if known is None:
            record_credits(alias, credits)
    if track:
        ensure_polling(alias, known)


@functools.cache
def _credits_statement(vendor: str, keys: int) -> Statement:
    """Set `keys` keys of the credits in place (the database computes the JSON: no read, no
    lock) and return the polling token. Written out once (sender.statements): every send runs it."""
    credits = "{credits}"
    for i in range(keys):
        if vendor == "sqlite":
            credits = f"json_set({credits}, %(path{i})s, %(value{i})s)"
        else:
            credits = f"jsonb_set({credits}, ARRAY[%(key{i})s]::text[], to_jsonb(%(value{i})s::integer))"
    return Statement(GatewayState, f"UPDATE {{table}} SET {{credits}} = {credits}, {{credits_at}} = %(now)s "
                                   "WHERE {method} = %(alias)s RETURNING {columns}", columns=["poll_token", "poll_due_at"])


def _set_credits(alias: str, credits: dict[str, int]) -> tuple | None:
    """Set the reported credit in place; (poll_token, poll_due_at) of the row, or None when
    there is no row yet or the database cannot do it (record_credits then takes the lock)."""
    if connection.vendor not in ("sqlite", "postgresql") or not all(KEY.fullmatch(str(k)) for k in credits):
        return None
    values: dict[str, Any] = {"alias": alias, "now": timezone.now()}
    for i, (key, value) in enumerate(credits.items()):
        if connection.vendor == "sqlite":
            values[f"path{i}"] = f'$."{key}"'  # KEY above: a plain word, safe inside the JSON path
        else:
            values[f"key{i}"] = str(key)
        values[f"value{i}"] = int(value)
    rows = _credits_statement(connection.vendor, len(credits)).rows(**values)
    return (rows[0].poll_token, rows[0].poll_due_at) if rows else None


def _queue(state: GatewayState, when) -> None:
    token = uuid.uuid4()
    GatewayState.objects.filter(pk=state.pk).update(poll_token=token, poll_due_at=when)
    transaction.on_commit(lambda: poll_sms.using(run_after=when).enqueue(state.method, str(token)))


@task()
def poll_sms(alias: str, token: str) -> None:
    """The background task: one turn of an SMS method's polling chain (delivery reports,
    replies, credits); then it queues itself again."""
    take_turn(alias, token)


def take_turn(alias: str, token: str) -> None:
    """One turn of the chain: poll if this task still holds the token, then queue the next."""
    if alias not in methods.settings or alias not in sms_aliases():
        GatewayState.objects.filter(method=alias, poll_token=token).update(poll_token=None, poll_due_at=None)
        return
    if not GatewayState.objects.filter(method=alias, poll_token=token).exists():
        return  # superseded by a newer chain
    try:
        poll_round(alias)
    finally:
        _next_turn(alias, token)


def _next_turn(alias: str, token: str) -> None:
    now = timezone.now()
    with methods[alias].backend() as backend:
        keep_going = backend.supports_tracking or backend.supports_incoming
    # Orders of Skebby gateways kept in the database are polled whatever the method's own backend.
    keep_going = keep_going or GatewayOrder.objects.filter(message_sent__method=alias, open=True,
                                                           gateway__isnull=False).exists()
    when = now + max(interval(alias), MIN_DELAY)
    due = GatewayOrder.objects.filter(message_sent__method=alias, open=True).order_by("next_poll_at").first()
    if due is not None:
        when = max(min(when, due.next_poll_at), now + MIN_DELAY)
    with transaction.atomic():
        state = GatewayState.objects.select_for_update().filter(method=alias, poll_token=token).first()
        if state is None:
            return
        if keep_going:
            _queue(state, when)
        else:
            GatewayState.objects.filter(pk=state.pk).update(poll_token=None, poll_due_at=None)


# -- one round ------------------------------------------------------------------------------


def poll_round(alias: str) -> int:
    """Poll due orders, fetch replies and credits, over one gateway session.
    Returns how many orders are still open."""
    method = methods[alias]
    problems = []
    with method.backend() as backend:
        for step in (poll_orders, fetch_incoming, refresh_credits):
            try:
                step(alias, backend)
            except DeliveryError as exc:
                logger.warning("SMS polling for %s: %s", alias, exc.message)
                problems.append(exc.message)
    GatewayState.objects.filter(method=alias).update(polled_at=timezone.now(), error="\n".join(problems))
    return GatewayOrder.objects.filter(message_sent__method=alias, open=True).count()


def poll_orders(alias: str, backend) -> int:
    """Ask the gateway about each due order; return how many rows changed status."""
    method = methods[alias]
    every = interval(alias)
    track_for = timedelta(hours=float(method.options["track_hours"]))
    now = timezone.now()
    due = GatewayOrder.objects.filter(message_sent__method=alias, open=True, next_poll_at__lte=now)
    changed = 0
    clients: dict[int, Any] = {}  # a Skebby gateway kept in the database: one client a round
    try:
        for order in due.select_related("message_sent", "gateway").order_by("next_poll_at")[:ORDERS_PER_ROUND]:
            claimed = GatewayOrder.objects.filter(pk=order.pk, next_poll_at=order.next_poll_at).update(
                next_poll_at=now + every, polled_at=now)
            if not claimed:
                continue  # another poller has it
            if order.gateway is None:
                states = backend.states(order.order_id)
            else:
                if order.gateway_id not in clients:
                    clients[order.gateway_id] = gateways.client_for(order.gateway)
                states = clients[order.gateway_id].states(order.order_id)
            changed += _apply_states(order, states, method, now, track_for)
    finally:
        for client in clients.values():
            client.close()
    return changed


def _apply_states(order: GatewayOrder, states: dict[str, str] | None, method, now, track_for: timedelta) -> int:
    """Write what the gateway said of one order's rows; close the order when none stays open."""
    message_type = order.message_sent.extra.get("message_type") or method.message_type
    receipts, still_open = _receipts(order, states, message_type, expired=now - order.created_at > track_for,
                                     hours=method.options["track_hours"])
    changed = apply_receipts(receipts)
    if not still_open:
        GatewayOrder.objects.filter(pk=order.pk).update(open=False)
    return changed


def _receipts(order: GatewayOrder, states: dict[str, str] | None, message_type: str, expired: bool,
              hours) -> tuple[dict, bool]:
    """{row code: (status, reason)} for the rows of one order, and whether any is still open
    (a GP row in SENT is: its delivery report may follow)."""
    by_number = {number.lstrip("+"): state for number, state in (states or {}).items()}
    receipts, still_open = {}, False
    rows = MessageRecipient.objects.filter(message_sent_id=order.message_sent_id, gateway_ref=order.order_id)
    for code, address in rows.values_list("code", "address"):
        state = by_number.get(address.lstrip("+"))
        status = status_for(state, message_type) if state else Status.PENDING
        if states is None:
            receipts[code] = (Status.UNKNOWN, _("The gateway does not know order %(order)s.") % {"order": order.order_id})
        elif status == Status.PENDING and expired:  # the gateway took it; nobody confirmed it arrived
            receipts[code] = (Status.SENT, _("No delivery report within %(hours)s hours (last state: %(state)s).")
                              % {"hours": hours, "state": state or _("none")})
        elif status == Status.PENDING:
            still_open = True
        elif state == "DLVRD":
            receipts[code] = (Status.DELIVERED, "")
        elif status == Status.UNKNOWN:
            receipts[code] = (Status.UNKNOWN, _("The gateway reported an unknown state: %(state)s.") % {"state": state})
        else:
            receipts[code] = (status, _("The gateway reported %(state)s.") % {"state": describe(state)})
    return receipts, still_open


# -- credits --------------------------------------------------------------------------------


def refresh_credits(alias: str, backend) -> None:
    credits = backend.credits()
    if credits is not None:
        record_credits(alias, credits.get("sms", {}), credits.get("money"))


def record_credits(alias: str, sms: dict[str, int], money=None) -> None:
    """Remember the credit the gateway reported (a send reports one message type only)."""
    with transaction.atomic():
        state, _created = GatewayState.objects.select_for_update().get_or_create(method=alias)
        state.credits = {**state.credits, **{str(k): int(v) for k, v in sms.items()}}
        if money is not None:
            state.money = Decimal(str(money))
        state.credits_at = timezone.now()
        state.save(update_fields=["credits", "money", "credits_at"])
