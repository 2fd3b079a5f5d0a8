"""SMS: numbers in E.164, the exact cost before sending, many recipients per gateway call.

The text is analysed once (sms_text.analyze: GSM-7 or UCS-2, segments) for the preview,
the price stored on each row and what the gateway is told. Rows go to the backend in
orders of `batch_size` numbers; every row records its order id, and the orders are polled
later for delivery reports (pipeline/tracking.py).
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core import checks
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from ..conf import sender_settings
from ..exceptions import DeliveryError, InvalidAddress, InvalidMethod
from ..gateways.skebby import MESSAGE_TYPES
from ..models import GatewayOrder, MessageRecipient, MessageSent
from . import sms_text
from .base import RETRY, BaseMethod, Draft, Outcome
from .sms_backends import BaseSmsBackend, Sms, load_backend

Status = MessageRecipient.Status
MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
ORDER_NAMESPACE = uuid.UUID("6f0b7c52-3d4e-4f59-9a51-6f2c0d1e8a77")
DEFAULTS: dict[str, Any] = {
    "backend": "skebby", "message_type": "GP", "sender": "", "max_segments": 7, "batch_size": 1000,
    "transliterate": False, "poll_interval": 60, "track_hours": 48, "prices": {},
}


class SmsMethod(BaseMethod):
    label = gettext_lazy("SMS")
    address_field = "sms"

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

    # -- addresses ---------------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        region = self.options.get("region") or sender_settings.DEFAULT_REGION
        try:
            number = phonenumbers.parse(address, region)
        except phonenumbers.NumberParseException:
            raise InvalidAddress(_("“%(address)s” is not a phone number.") % {"address": address}) from None
        if not phonenumbers.is_valid_number(number):
            raise InvalidAddress(_("“%(address)s” is not a valid phone number.") % {"address": address})
        if phonenumbers.number_type(number) not in MOBILE:
            raise InvalidAddress(_("“%(address)s” is not a mobile number, so it cannot receive SMS.")
                                 % {"address": address})
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    # -- text and price ----------------------------------------------------------------------

    def text(self, body: str) -> sms_text.SmsText:
        """What will be sent: lookalikes replaced, transliterated to GSM-7 if configured."""
        if self.options["transliterate"]:
            body = sms_text.to_gsm7(body)
        return sms_text.analyze(body)

    def presend(self, draft: Draft) -> list[str]:
        problems = [p for p in super().presend(draft)]
        info = self.text(draft.body)
        if info.segments > int(self.options["max_segments"]):
            problems.append(_("The SMS needs %(n)d segments (%(encoding)s); at most %(max)d are allowed.")
                            % {"n": info.segments, "encoding": info.encoding, "max": int(self.options["max_segments"])})
        return problems

    def warnings(self, draft: Draft) -> list[str]:
        info = self.text(draft.body)
        warnings = []
        if info.encoding == "UCS-2" and info.text.strip():
            gsm = sms_text.analyze("a" * len(info.text)).segments
            warnings.append(_("The SMS is sent as UCS-2 because of %(chars)s: %(n)d segments instead of %(gsm)d.")
                            % {"chars": " ".join(info.ucs2_chars), "n": info.segments, "gsm": gsm})
        if draft.attachments:
            warnings.append(_("Attachments are not sent by SMS."))
        return warnings

    def segments(self, draft: Draft) -> int:
        return self.text(draft.body).segments

    # -- delivery ----------------------------------------------------------------------------

    def backend(self) -> BaseSmsBackend:
        return load_backend(self.options, self.alias)

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        """Send the rows in orders of `batch_size`. An order the gateway refuses for good fails
        its rows and the rest; a transient error leaves them pending. If nothing went out,
        the error is raised so the batch waits as long as the gateway asked."""
        info = self.text(message.broadcast.body)
        outcomes: list[Outcome] = []
        orders: list[tuple[str, int]] = []
        remaining = None
        with self.backend() as backend:
            size = backend.max_recipients
            for start in range(0, len(rows), size):
                chunk = rows[start:start + size]
                sms = Sms(order_id(chunk), info.text, "ucs2" if info.encoding == "UCS-2" else "gsm", self.message_type,
                          self.options["sender"], [r.address for r in chunk], int(self.options["max_segments"]))
                try:
                    accepted = backend.send(sms, retried=any(r.attempts > 1 for r in chunk))
                except DeliveryError as exc:
                    if not outcomes:
                        raise
                    status = Status.FAILED if exc.permanent else RETRY
                    outcomes.extend(Outcome(r.id, status, exc.message) for r in rows[start:])
                    break
                outcomes.extend(Outcome(r.id, Status.SUCCESS, "", accepted.order_id) for r in chunk)
                orders.append((accepted.order_id, len(chunk)))
                remaining = accepted.remaining if accepted.remaining is not None else remaining
            if orders and backend.supports_tracking:
                self._track(message, orders)
        if remaining is not None:
            extra = {**message.extra, "remaining_credits": remaining, "credits_at": timezone.now().isoformat()}
            MessageSent.objects.filter(pk=message.pk).update(extra=extra)
        return outcomes

    def _track(self, message: MessageSent, orders: list[tuple[str, int]]) -> None:
        """Record the orders to poll, and start the polling task if none is running."""
        from ..tasks import schedule_poll

        first = timezone.now() + timedelta(seconds=float(self.options["poll_interval"]))
        running = GatewayOrder.objects.filter(message_sent__method=self.alias, open=True).exists()
        GatewayOrder.objects.bulk_create(
            [GatewayOrder(message_sent=message, order_id=oid, size=n, next_poll_at=first) for oid, n in orders],
            ignore_conflicts=True,  # an order found again after a lost answer is already tracked
        )
        if not running:
            schedule_poll(self.alias, first)

    def check(self) -> list[checks.CheckMessage]:
        errors = []
        try:
            backend = self.backend()
        except InvalidMethod as exc:
            return [checks.Error(str(exc), id="sender.E020")]
        for problem in backend.problems():
            errors.append(checks.Error(f"Send method '{self.alias}': {problem}", id="sender.E021"))
        if self.message_type not in MESSAGE_TYPES:
            errors.append(checks.Error(f"Send method '{self.alias}': message_type must be one of "
                                       f"{', '.join(MESSAGE_TYPES)}, not {self.message_type!r}.", id="sender.E022"))
        region = self.options.get("region") or sender_settings.DEFAULT_REGION
        if region not in phonenumbers.SUPPORTED_REGIONS:
            errors.append(checks.Error(f"Send method '{self.alias}': unknown phone region {region!r}.",
                                       hint="Set SENDER_DEFAULT_REGION to a two-letter country code.", id="sender.E023"))
        return errors


def order_id(rows: Sequence[MessageRecipient]) -> str:
    """The same rows always make the same order id, so a retried order can be recognised."""
    return str(uuid.uuid5(ORDER_NAMESPACE, ",".join(str(r.code) for r in rows)))
