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
from collections import defaultdict
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

from sender.audience import placeholders
from sender.audience.placeholders import uses_placeholders
from sender.channels.base import RETRY, BaseMethod, Draft, Outcome, report
from sender.channels.sms import gateways
from sender.channels.sms import text as sms_text
from sender.channels.sms.backends import BaseSmsBackend, Sms, load_backend
from sender.channels.sms.gateway import MESSAGE_TYPES, GatewayRefused, max_length
from sender.channels.sms.models import GatewayOrder
from sender.channels.sms.tracking import after_send
from sender.conf import sender_settings
from sender.exceptions import DeliveryError, InvalidAddress, InvalidMethod
from sender.models import MessageRecipient, MessageSent
from sender.statements import Statement

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
    priced_by_text = True

    def __init__(self, alias: str, params: dict[str, Any]):
        super().__init__(alias, params)
        self.options = {**DEFAULTS, **self.options}
        self.message_type = self.options["message_type"]
        if self.options["backend"] != "gateways":
            # One order on the wire at a time, journaled once accepted: after a crash only that
            # order may have gone out unrecorded. Gateways kept as data report nothing: the chunk.
            self.in_flight = int(self.options["batch_size"])
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
                **({"flash": True} if draft.flash else {}),
                **({} if draft.status_report else {"status_report": False})}

    # -- delivery ----------------------------------------------------------------------------

    def backend(self) -> BaseSmsBackend:
        return load_backend(self.options, self.alias)

    def supports_flash(self) -> bool:
        """Whether the configured gateway can send flash SMS; for the gateways kept as data,
        whether some enabled one can (a flash SMS fails over only among those)."""
        if self.options["backend"] == "gateways":
            return gateways.can_flash(self.alias)
        return self.backend().supports_flash

    @contextmanager
    def hold(self, backend: BaseSmsBackend | None = None) -> Iterator[BaseSmsBackend]:
        """Keep one backend (one gateway session) open for every delivery in this block, in this
        thread or task: sending from code in a loop logs in once (sender.direct.get_connection).
        `backend`: deliver through this one instead of the configured one (a connection
        asked for by dotted path); its orders are not polled, the poller knows only the
        configured gateway."""
        held = _held.get()
        if self.alias in held and backend is None:
            yield held[self.alias]
            return
        if backend is not None:
            backend.sender_given = True
        with backend if backend is not None else self.backend() as backend:
            token = _held.set({**held, self.alias: backend})
            try:
                yield backend
            finally:
                _held.reset(token)

    def _open(self):
        """The held backend (left open), or a fresh one closed after use."""
        held = _held.get().get(self.alias)
        return nullcontext(held) if held is not None else self.backend()

    def row_texts(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> dict[int, sms_text.SmsText]:
        """Each row's SMS as it goes out (placeholders filled in, then lookalikes replaced and
        transliterated as the message asked). A text with placeholders may cost each row a
        different number of segments: the rows' `segments` are set to theirs (one UPDATE per
        distinct count), so the ledger charges what the gateway bills, and keep their texts
        (the very strings the gateway is given) for staff to see what each number received."""
        body = message.broadcast.body
        transliterate = bool(message.extra.get("transliterate"))
        if not uses_placeholders(body):
            info = self.text(body, transliterate)
            return {row.id: info for row in rows}
        analysed: dict[str, sms_text.SmsText] = {}
        result = {}
        for row_id, text in placeholders.row_texts(body, rows).items():
            if text not in analysed:
                analysed[text] = self.text(text, transliterate)
            result[row_id] = analysed[text]
        changed: dict[int, list[MessageRecipient]] = defaultdict(list)
        for row in rows:
            segments = max(result[row.id].segments, 1)
            if row.segments != segments:
                changed[segments].append(row)
        for segments, group in changed.items():
            MessageRecipient.objects.filter(pk__in=[r.id for r in group]).update(segments=segments)
            for row in group:
                row.segments = segments
        placeholders.keep_texts(body, {row_id: info.text for row_id, info in result.items()})
        return result

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        """Send the rows in orders of `batch_size`. An order the gateway refuses for good fails
        its rows and the rest; a transient error leaves them pending. If nothing went out,
        the error is raised so the batch waits as long as the gateway asked.

        Placeholders keep one order per batch: each number gets its own text in the same call
        (Skebby's `paramsms`); only a batch mixing GSM-7 and UCS-2 texts goes as two orders,
        one per encoding. Gateways kept as data get one request per distinct text."""
        texts = self.row_texts(message, rows)
        too_long = [Outcome(r.id, Status.FAILED, reason) for r in rows if (reason := self._too_long(texts[r.id]))]
        if too_long:  # a recipient whose text grew past the limit fails alone, not with the whole order
            failed = {o.row_id for o in too_long}
            rows = [r for r in rows if r.id not in failed]
            if not rows:
                return too_long
            return too_long + self.deliver_rows(message, rows, texts)
        return self.deliver_rows(message, rows, texts)

    def _too_long(self, info: sms_text.SmsText) -> str:
        """Why this recipient's text (placeholders filled in) cannot go out, or ""."""
        if info.units > max_length(self.message_type, info.encoding) or info.segments > int(self.options["max_segments"]):
            return _("With the placeholders filled in, this recipient's SMS is too long (%(n)d characters, "
                     "%(segments)d segments).") % {"n": info.units, "segments": info.segments}
        return ""

    def deliver_rows(self, message: MessageSent, rows: Sequence[MessageRecipient],
                     texts: dict[int, sms_text.SmsText]) -> list[Outcome]:
        """Send rows whose texts are known to fit."""
        if self.options["backend"] == "gateways":
            outcomes = self._through_gateways(message, rows, texts)
            if message.extra.get("status_report", True):
                orders = gateways.polled_orders([o.row_id for o in outcomes if o.status == Status.SENT])
                self._track(message, orders)
                after_send(self.alias, None, track=bool(orders))
            return outcomes
        # One reason per order: record() then writes each order's rows (and their gateway_ref) in one UPDATE.
        waiting = _("Accepted by the gateway (order %(order)s); waiting for the delivery report.")
        outcomes: list[Outcome] = []
        orders: list[tuple[str, int]] = []
        remaining = None
        sender = message.extra.get("sender") or self.options["sender"]
        with self._open() as backend:
            tracking = (backend.supports_tracking and message.extra.get("status_report", True)
                        and not getattr(backend, "sender_given", False))  # a backend given by path is not polled
            size = backend.max_recipients
            calls = []
            for start in range(0, len(rows), size):
                for group in _by_encoding(rows[start:start + size], texts):
                    infos = [texts[r.id] for r in group]
                    same = all(info.text == infos[0].text for info in infos)
                    calls.append((group, Sms(order_id(group), infos[0].text, _encoding(infos[0]), self.message_type,
                                             sender, [r.address for r in group], int(self.options["max_segments"]),
                                             flash=bool(message.extra.get("flash")),
                                             texts=None if same else [info.text for info in infos])))
            for index, (chunk, sms) in enumerate(calls):
                try:
                    accepted = backend.send(sms, retried=any(r.attempts > 1 for r in chunk))
                except DeliveryError as exc:
                    self._note_account_problem(message, exc)
                    if not outcomes:
                        raise
                    # Keys refused mid-broadcast: the rest wait for the pause, they did not fail.
                    status = Status.FAILED if exc.permanent and exc.scope != exc.METHOD else RETRY
                    outcomes.extend(Outcome(r.id, status, exc.message) for group, _sms in calls[index:] for r in group)
                    break
                reason = waiting % {"order": accepted.order_id} if tracking else ""
                outcomes.extend(Outcome(r.id, Status.SENT, reason, accepted.order_id) for r in chunk)
                report(*outcomes[-len(chunk):])  # the order is accepted: journaled before the next goes
                orders.append((accepted.order_id, len(chunk)))
                remaining = accepted.remaining if accepted.remaining is not None else remaining
            if orders and tracking:
                self._track(message, orders)
        after_send(self.alias, {self.message_type: remaining} if remaining is not None else None,
                   track=bool(orders and tracking))
        return outcomes

    def recovered(self, message: MessageSent, outcomes: Sequence[Outcome]) -> None:
        """Register for delivery reports the orders a stopped worker journaled, as `deliver`
        does at the end of a batch (a worker killed between an order and that end never did):
        otherwise their rows would stay `sent`, never polled. Registering twice is harmless
        (one GatewayOrder per order id). The dead worker's reason says whether it meant to
        poll: a backend given by path (never polled) left it empty."""
        if not message.extra.get("status_report", True):
            return
        taken = [o for o in outcomes if o.status == Status.SENT and o.gateway_ref]
        if self.options["backend"] == "gateways":
            orders: list[tuple] = gateways.polled_orders([o.row_id for o in taken])
        else:
            if not self.backend().supports_tracking:
                return
            sizes: dict[str, int] = defaultdict(int)
            for outcome in taken:
                if outcome.reason:  # "waiting for the delivery report"
                    sizes[outcome.gateway_ref] += 1
            orders = list(sizes.items())
        if orders:
            self._track(message, orders)
            after_send(self.alias, None, track=True)

    def _through_gateways(self, message: MessageSent, rows: Sequence[MessageRecipient],
                          texts: dict[int, sms_text.SmsText]) -> list[Outcome]:
        """The gateways kept as data, one text at a time (rows grouped by their rendered text).
        Raises only when nothing of the batch went out."""
        groups: dict[str, list[MessageRecipient]] = defaultdict(list)
        for row in rows:
            groups[texts[row.id].text].append(row)
        outcomes: list[Outcome] = []
        failed: list[tuple[list[MessageRecipient], DeliveryError]] = []
        for group in groups.values():
            info = texts[group[0].id]
            try:
                outcomes += gateways.deliver(self.alias, group, info.text, order_id, self.message_type,
                                             _encoding(info), int(self.options["max_segments"]),
                                             message.extra.get("gateway", ""), bool(message.extra.get("flash")))
            except DeliveryError as exc:
                failed.append((group, exc))
        if failed and not outcomes:
            raise failed[0][1]
        for group, exc in failed:
            outcomes += [Outcome(r.id, Status.FAILED if exc.permanent else RETRY, exc.message) for r in group]
        return outcomes

    def _note_account_problem(self, message: MessageSent, exc: DeliveryError) -> None:
        """Wrong keys or no credit: say so on the method's row, for staff to see on the page."""
        if exc.permanent and isinstance(exc, GatewayRefused) and exc.status_code in (400, 401, 404):
            MessageSent.objects.filter(pk=message.pk).update(error=exc.message)

    def _track(self, message: MessageSent, orders: Sequence[tuple]) -> None:
        """Record the orders to poll, (order id, rows[, gateway id]) each; after_send then
        makes sure the polling task runs."""
        now = timezone.now()
        first = now + timedelta(seconds=float(self.options["poll_interval"]))
        TRACK.execute_many([{"sent": message.pk, "order": order[0], "size": order[1], "first": first, "now": now,
                             "gateway": order[2] if len(order) > 2 else None} for order in orders])

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


TRACK = Statement(GatewayOrder, """
    INSERT INTO {table} ({message_sent}, {order_id}, {gateway}, {size}, {open}, {next_poll_at}, {created_at})
    VALUES (%(sent)s, %(order)s, %(gateway)s, %(size)s, TRUE, %(first)s, %(now)s)
    ON CONFLICT DO NOTHING""")
"""An order to poll; one found again after a lost answer is already tracked. Written out once
(sender.statements): every send that waits for delivery reports runs it."""


def _encoding(info: sms_text.SmsText) -> str:
    return "ucs2" if info.encoding == "UCS-2" else "gsm"


def _by_encoding(rows: Sequence[MessageRecipient], texts: dict[int, sms_text.SmsText]) -> list[list[MessageRecipient]]:
    """The rows of one order split by encoding (an order has one), GSM-7 first; usually one group."""
    groups: dict[str, list[MessageRecipient]] = {}
    for row in rows:
        groups.setdefault(texts[row.id].encoding, []).append(row)
    return [groups[e] for e in sorted(groups, key=lambda e: e != "GSM-7")]


def order_id(rows: Sequence[MessageRecipient]) -> str:
    """The same rows always make the same order id, so a retried order can be recognised.
    32 hex digits: Skebby takes at most 32 characters of [A-Za-z0-9._-] (a dashed uuid is 36)."""
    return uuid.uuid5(ORDER_NAMESPACE, ",".join(str(r.code) for r in rows)).hex
