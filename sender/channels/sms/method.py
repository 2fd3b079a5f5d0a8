"""SMS: numbers in E.164, the exact cost before sending, many recipients per gateway call.

The text is analysed once (sms_text.analyze: GSM-7 or UCS-2, segments) for the preview,
the price stored on each row and what the gateway is told. Rows go to the backend in
orders of `batch_size` numbers; every row records its order id, and the orders are polled
later for delivery reports (tracking.py).

A row the gateway accepted is `sent` with the reason "waiting for the delivery report"
(the gateway bills it); the delivery report later makes it `delivered` (DLVRD), fails it
with the carrier's words, or leaves it `sent` with "no delivery report" after `track_hours`.
"""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core import checks
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from sender.channels.base import RETRY, BaseMethod, Draft, Outcome
from sender.channels.sms import gateways
from sender.channels.sms import text as sms_text
from sender.channels.sms.backends import BaseSmsBackend, Sms, load_backend
from sender.channels.sms.gateway import MESSAGE_TYPES, GatewayRefused, max_length
from sender.channels.sms.models import GatewayOrder
from sender.channels.sms.tracking import ensure_polling, record_credits
from sender.conf import sender_settings
from sender.exceptions import DeliveryError, InvalidAddress, InvalidMethod
from sender.models import MessageRecipient, MessageSent

Status = MessageRecipient.Status
MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
ORDER_NAMESPACE = uuid.UUID("6f0b7c52-3d4e-4f59-9a51-6f2c0d1e8a77")
DEFAULTS: dict[str, Any] = {
    "backend": "skebby", "message_type": "GP", "sender": "", "max_segments": 7, "batch_size": 1000,
    "transliterate": False, "poll_interval": 60, "track_hours": 48, "prices": {}, "region": "", "incoming": False,
}


_held: ContextVar[dict[str, BaseSmsBackend]] = ContextVar("sender_sms_held", default={})
"""Backends kept open by `SmsMethod.hold`, by alias."""

class SmsMethod(BaseMethod):
    kind = "sms"
    label = gettext_lazy("SMS")
    address_field = "sms"
    supports_attachments = True  # not sent; presend warns instead of refusing the whole broadcast

    def __init__(self, alias: str, params: dict[str, Any]):
        super().__init__(alias, params)
        self.options = {**DEFAULTS, **self.options}
        self.message_type = self.options["message_type"]
        price = self.options["prices"].get(self.message_type, params.get("PRICE", "0"))
        try:
            self.unit_price = Decimal(str(price))  # per segment, for the configured quality
        except InvalidOperation:
            raise InvalidMethod(f"Send method '{alias}': the price of {self.message_type} must be a number, "
                                f"not {price!r}.") from None

    @property
    def region(self) -> str:
        return self.options["region"] or sender_settings.DEFAULT_REGION

    # -- addresses ---------------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """E.164 (+393471234567), or InvalidAddress saying why: not a number, not valid, not a mobile."""
        try:
            number = phonenumbers.parse(address, self.region)
        except phonenumbers.NumberParseException:
            raise InvalidAddress(_("“%(address)s” is not a phone number.") % {"address": address}) from None
        if not phonenumbers.is_valid_number(number):
            raise InvalidAddress(_("“%(address)s” is not a valid phone number.") % {"address": address})
        if phonenumbers.number_type(number) not in MOBILE:
            raise InvalidAddress(_("“%(address)s” is not a mobile number, so it cannot receive SMS.")
                                 % {"address": address})
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    # -- text and price ----------------------------------------------------------------------

    def transliterates(self, draft: Draft) -> bool:
        return bool(getattr(draft, "transliterate", False) or self.options["transliterate"])

    def text(self, body: str, transliterate: bool = False) -> sms_text.SmsText:
        """What will be sent: lookalikes replaced, and transliterated to GSM-7 when asked."""
        if transliterate or self.options["transliterate"]:
            body = sms_text.to_gsm7(body)
        return sms_text.analyze(body)

    def presend(self, draft: Draft) -> list[str]:
        problems = [p for p in super().presend(draft)]
        info = self.text(draft.body, self.transliterates(draft))
        longest = max_length(self.message_type, info.encoding)
        if info.units > longest:
            problems.append(_("The SMS is %(n)d characters long in %(encoding)s; Skebby sends at most %(max)d "
                              "in %(encoding)s for quality %(type)s. Shorten it%(hint)s.")
                            % {"n": info.units, "encoding": info.encoding, "max": longest, "type": self.message_type,
                               "hint": _(" or avoid the characters that force UCS-2") if info.encoding == "UCS-2"
                               else ""})
        limit = int(self.options["max_segments"])
        if info.segments > limit:
            problems.append(_("The SMS needs %(n)d segments (%(encoding)s); at most %(max)d are allowed.")
                            % {"n": info.segments, "encoding": info.encoding, "max": limit})
        return problems

    def warnings(self, draft: Draft) -> list[str]:
        transliterate = self.transliterates(draft)
        info = self.text(draft.body, transliterate)
        warnings = []
        if info.encoding == "UCS-2" and info.text.strip():
            gsm = sms_text.analyze("a" * len(info.text)).segments
            if info.segments > gsm:  # said only when it costs more
                warnings.append(ngettext(
                    "The SMS is sent as UCS-2 because of %(chars)s: %(n)d segments instead of %(gsm)d.",
                    "The SMS is sent as UCS-2 because of %(chars)s: %(n)d segments instead of %(gsm)d.",
                    info.segments) % {"chars": " ".join(info.ucs2_chars), "n": info.segments, "gsm": gsm})
            if not transliterate and sms_text.analyze(sms_text.to_gsm7(draft.body)).encoding == "GSM-7":
                warnings.append(_("Replacing accented letters would keep the SMS in GSM-7."))
        if draft.attachments:
            warnings.append(_("Attachments are not sent by SMS."))
        return warnings

    def segments(self, draft: Draft) -> int:
        return self.text(draft.body, self.transliterates(draft)).segments

    def as_sent(self, text: str, draft: Draft) -> str:
        """Lookalikes replaced (curly quotes straightened), transliterated when asked."""
        return self.text(text, self.transliterates(draft)).text

    def sent_extra(self, draft: Draft) -> dict[str, Any]:
        info = self.text(draft.body, self.transliterates(draft))
        return {**super().sent_extra(draft), "transliterate": self.transliterates(draft), "encoding": info.encoding,
                "message_type": self.message_type, "price_per_segment": str(self.unit_price),
                **({"sender": draft.sender} if draft.sender else {}),
                **({} if draft.status_report else {"status_report": False})}

    # -- delivery ----------------------------------------------------------------------------

    def backend(self) -> BaseSmsBackend:
        return load_backend(self.options, self.alias)

    @contextmanager
    def hold(self) -> Iterator[BaseSmsBackend]:
        """Keep one backend (one gateway session) open for every delivery in this block, in this
        thread or task: sending from code in a loop logs in once (sender.direct.get_connection)."""
        held = _held.get()
        if self.alias in held:
            yield held[self.alias]
            return
        with self.backend() as backend:
            token = _held.set({**held, self.alias: backend})
            try:
                yield backend
            finally:
                _held.reset(token)

    def _open(self):
        """The held backend (left open), or a fresh one closed after use."""
        held = _held.get().get(self.alias)
        return nullcontext(held) if held is not None else self.backend()

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        """Send the rows in orders of `batch_size`. An order the gateway refuses for good fails
        its rows and the rest; a transient error leaves them pending. If nothing went out,
        the error is raised so the batch waits as long as the gateway asked."""
        info = self.text(message.broadcast.body, bool(message.extra.get("transliterate")))
        encoding = "ucs2" if info.encoding == "UCS-2" else "gsm"
        if self.options["backend"] == "gateways":
            outcomes = gateways.deliver(self.alias, rows, info.text, order_id, self.message_type, encoding,
                                        int(self.options["max_segments"]), message.extra.get("gateway", ""))
            if message.extra.get("status_report", True):
                self._track(message, gateways.polled_orders([o.row_id for o in outcomes if o.status == Status.SENT]))
            return outcomes
        # One reason per order: record() then writes each order's rows (and their gateway_ref) in one UPDATE.
        waiting = _("Accepted by the gateway (order %(order)s); waiting for the delivery report.")
        outcomes: list[Outcome] = []
        orders: list[tuple[str, int]] = []
        remaining = None
        sender = message.extra.get("sender") or self.options["sender"]
        with self._open() as backend:
            tracking = backend.supports_tracking and message.extra.get("status_report", True)
            size = backend.max_recipients
            for start in range(0, len(rows), size):
                chunk = rows[start:start + size]
                sms = Sms(order_id(chunk), info.text, encoding, self.message_type, sender,
                          [r.address for r in chunk], int(self.options["max_segments"]))
                try:
                    accepted = backend.send(sms, retried=any(r.attempts > 1 for r in chunk))
                except DeliveryError as exc:
                    self._note_account_problem(message, exc)
                    if not outcomes:
                        raise
                    # Keys refused mid-broadcast: the rest wait for the pause, they did not fail.
                    status = Status.FAILED if exc.permanent and exc.scope != exc.METHOD else RETRY
                    outcomes.extend(Outcome(r.id, status, exc.message) for r in rows[start:])
                    break
                reason = waiting % {"order": accepted.order_id} if tracking else ""
                outcomes.extend(Outcome(r.id, Status.SENT, reason, accepted.order_id) for r in chunk)
                orders.append((accepted.order_id, len(chunk)))
                remaining = accepted.remaining if accepted.remaining is not None else remaining
            if orders and tracking:
                self._track(message, orders)
        if remaining is not None:
            record_credits(self.alias, {self.message_type: remaining})
        return outcomes

    def _note_account_problem(self, message: MessageSent, exc: DeliveryError) -> None:
        """Wrong keys or no credit: say so on the method's row, for staff to see on the page."""
        if exc.permanent and isinstance(exc, GatewayRefused) and exc.status_code in (400, 401, 404):
            MessageSent.objects.filter(pk=message.pk).update(error=exc.message)

    def _track(self, message: MessageSent, orders: Sequence[tuple]) -> None:
        """Record the orders to poll, (order id, rows[, gateway id]) each, and make sure the
        polling task runs."""
        if not orders:
            return
        first = timezone.now() + timedelta(seconds=float(self.options["poll_interval"]))
        GatewayOrder.objects.bulk_create(
            [GatewayOrder(message_sent=message, order_id=order[0], size=order[1], next_poll_at=first,
                          gateway_id=order[2] if len(order) > 2 else None) for order in orders],
            ignore_conflicts=True,  # an order found again after a lost answer is already tracked
        )
        ensure_polling(self.alias)

    def check(self) -> list[checks.CheckMessage]:
        if self.options["backend"] == "gateways":
            return []  # gateways are data, checked when saved in the admin
        try:
            backend = self.backend()
        except InvalidMethod as exc:
            return [checks.Error(str(exc), id="sender.E020")]
        errors: list[checks.CheckMessage] = [
            checks.Error(f"Send method '{self.alias}': {problem}", id="sender.E021") for problem in backend.problems()
        ]
        if self.message_type not in MESSAGE_TYPES:
            errors.append(checks.Error(f"Send method '{self.alias}': message_type must be one of "
                                       f"{', '.join(MESSAGE_TYPES)}, not {self.message_type!r}.",
                                       hint="Set SENDER_SMS_QUALITY.", id="sender.E022"))
        if self.region not in phonenumbers.SUPPORTED_REGIONS:
            errors.append(checks.Error(f"Send method '{self.alias}': unknown phone region {self.region!r}.",
                                       hint="Set SENDER_DEFAULT_REGION to a two-letter country code.", id="sender.E023"))
        if self.message_type not in self.options["prices"] and "PRICE" not in self.params:
            errors.append(checks.Warning(f"Send method '{self.alias}': no price for {self.message_type}; SMS cost 0.",
                                         hint=f"Set SENDER_SMS_PRICE_{self.message_type}.", id="sender.W024"))
        if self.options["sender"] and self.message_type != "GP":
            errors.append(checks.Error(f"Send method '{self.alias}': a sender alias needs message_type GP.",
                                       hint="Clear SENDER_SMS_SENDER or set SENDER_SMS_QUALITY=GP.", id="sender.E025"))
        return errors


def order_id(rows: Sequence[MessageRecipient]) -> str:
    """The same rows always make the same order id, so a retried order can be recognised.
    32 hex digits: Skebby takes at most 32 characters of [A-Za-z0-9._-] (a dashed uuid is 36)."""
    return uuid.uuid5(ORDER_NAMESPACE, ",".join(str(r.code) for r in rows)).hex
