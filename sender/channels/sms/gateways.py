"""Sending through the gateways kept in the database (`SmsGateway`), by priority, with
failover, and reading what they push back.

A batch goes to the first enabled gateway serving each number (country prefixes); when a
gateway fails with a transient error (connection, 5xx, no credit) the rows it has not taken
go to the next one. Each row taken is written at once as an `SmsDispatch` (gateway, its
message id, price), and a row with a dispatch is never handed to any gateway again: after a
lost answer the row ends `unknown` rather than risk a second SMS to the same number.

A flash SMS goes only through the gateways that can send one (`SmsGateway.can_flash`: flash
fields filled in), failing over among them alone: it is never sent as an ordinary SMS by a
gateway that would drop the flag.
"""

import hashlib
import hmac
import logging
import os
from collections import Counter
from datetime import timedelta
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.channels.base import RETRY, Outcome
from sender.channels.sms import http_gateway
from sender.channels.sms.gateway import LostAnswer, Received, SkebbyClient
from sender.channels.sms.http_gateway import HttpGateway, Spec, map_status
from sender.channels.sms.models import PendingPush, SmsDispatch, SmsGateway
from sender.exceptions import DeliveryError
from sender.models import MessageRecipient
from sender.receipts import apply_receipts
from sender.statuses import WENT_OUT

logger = logging.getLogger(__name__)
Status = MessageRecipient.Status
REST = timedelta(seconds=60)
"""How long a gateway that failed transiently is tried last."""


def env_secret(name: str) -> str:
    """The secret held by the environment variable `name` ("" when unnamed or unset): a gateway
    row stores only the names."""
    return os.environ.get(name, "") if name else ""


def words(value: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in value.split(",") if w.strip())


def spec_for(gateway: SmsGateway) -> Spec:
    """The network description of a gateway, with its secret read from the environment."""
    return Spec(
        name=gateway.name, url=gateway.url, http_method=gateway.http_method, body_format=gateway.body_format,
        template=gateway.request_template or {}, flash_params=gateway.flash_params or {},
        per_number=gateway.per_number, auth=gateway.auth,
        username=gateway.username, auth_header=gateway.auth_header,
        secret=env_secret(gateway.secret_env),
        success_path=gateway.success_path, success_values=words(gateway.success_values), id_path=gateway.id_path,
        error_path=gateway.error_path, failover_words=words(gateway.failover_words),
        status_mapping=gateway.status_mapping or {}, status_push=gateway.status_push or {},
        incoming_push=gateway.incoming_push or {}, timeout=gateway.timeout,
    )


def problems(gateway: SmsGateway) -> list[str]:
    """Why a gateway cannot work as described (checked when it is saved)."""
    found = []
    for label, name in ((_("secret"), gateway.secret_env), (_("push secret"), gateway.push_secret_env)):
        if name and not name.replace("_", "a").isalnum():
            found.append(_("The %(what)s must be the name of an environment variable (letters, digits, _), "
                           "not the secret itself.") % {"what": label})
    if gateway.kind == SmsGateway.Kind.SKEBBY:
        if not (gateway.url and gateway.username and gateway.secret_env):
            found.append(_("Skebby needs the URL, the username and the environment variable of the password."))
        if gateway.flash_params:
            found.append(_("Skebby's API has no flash SMS field: leave the flash SMS fields empty."))
        return found
    return found + http_gateway.check(spec_for(gateway), gateway.sample_answer)


# -- sending --------------------------------------------------------------------------------


class _Skebby:
    """Skebby through its own client, speaking like HttpGateway: one order id per batch. One
    retry: after a lost answer the client asks Skebby whether the order exists, so a batch
    that did go out is recognised instead of being ended `unknown`."""

    def __init__(self, gateway: SmsGateway, message_type: str, encoding: str, max_segments: int):
        self.client = SkebbyClient(gateway.url, gateway.username, env_secret(gateway.secret_env),
                                   timeout=gateway.timeout, retries=1, backoff=0.5, backoff_max=2)
        self.message_type, self.encoding, self.max_segments = message_type, encoding, max_segments

    def send(self, numbers: list[str], text: str, sender: str, ref: str, flash: bool = False) -> str:
        if flash:  # Skebby's API has no flash field: refused, never sent as an ordinary SMS
            raise DeliveryError(_("Skebby cannot send flash SMS."), permanent=True)
        return self.client.send_sms(ref, text, numbers, self.message_type, self.encoding, sender,
                                    self.max_segments).order_id

    def states(self, order_id: str) -> dict[str, str] | None:
        return self.client.order_states(order_id)

    def close(self) -> None:
        self.client.close()


def client_for(gateway: SmsGateway, message_type: str = "GP", encoding: str = "gsm", max_segments: int = 7):
    if gateway.kind == SmsGateway.Kind.SKEBBY:
        return _Skebby(gateway, message_type, encoding, max_segments)
    return HttpGateway(spec_for(gateway))


def can_flash(alias: str) -> bool:
    """Whether some enabled gateway of `alias` can send a flash SMS."""
    return any(g.can_flash for g in SmsGateway.objects.filter(method=alias, enabled=True))


def deliver(alias: str, rows: Sequence[MessageRecipient], text: str, order_ref, message_type: str = "GP",
            encoding: str = "gsm", max_segments: int = 7, prefer: str = "", flash: bool = False) -> list[Outcome]:
    """Send `rows` through the enabled gateways of `alias`, in priority order (`prefer` first:
    an answer goes back the way the reply came; one that failed within REST last), failing over;
    a flash SMS only through, and over, those that can send flash. `order_ref(chunk)` names a
    batch (the same rows, the same name). Raises DeliveryError when nothing went out: permanent
    when no gateway could take these rows, transient when they may be tried again later."""
    now = timezone.now()
    gateways = sorted(SmsGateway.objects.filter(method=alias, enabled=True),
                      key=lambda g: (g.name != prefer, bool(g.resting_until and g.resting_until > now)))
    if not gateways:
        raise DeliveryError(_("No SMS gateway is enabled for the send method %(alias)s.") % {"alias": alias})
    if flash:
        gateways = [g for g in gateways if g.can_flash]
    done = {d.recipient_id: d for d in SmsDispatch.objects.filter(recipient__in=list(rows)).select_related("gateway")}
    outcomes = [_accepted(r, done[r.id].gateway, done[r.id].provider_id) for r in rows if r.id in done]
    todo = [r for r in rows if r.id not in done]
    last_error: DeliveryError | None = None
    for gateway in gateways:
        mine = [r for r in todo if gateway.serves(r.address)]
        if not mine:
            continue
        taken, failed, error = _through(gateway, mine, text, order_ref, message_type, encoding, max_segments, flash)
        outcomes.extend(taken + failed)
        handled = {o.row_id for o in taken + failed}
        todo = [r for r in todo if r.id not in handled]
        last_error = error or last_error
        if not todo:
            break
    if todo:
        if not outcomes:
            raise last_error or DeliveryError(_nobody(alias, flash, bool(gateways), several=True), permanent=True)
        reason = last_error.message if last_error else _nobody(alias, flash, bool(gateways), several=False)
        status = RETRY if last_error and not last_error.permanent else Status.FAILED
        outcomes.extend(Outcome(r.id, status, reason) for r in todo)
    return outcomes


def _nobody(alias: str, flash: bool, any_gateway: bool, several: bool) -> str:
    """Why rows found no gateway: none can send flash at all, or none (that can) serves them."""
    if flash and not any_gateway:
        return _("No enabled SMS gateway of the send method %(alias)s can send flash SMS (they need flash SMS "
                 "fields; Twilio and Skebby have none), so the flash SMS was not sent.") % {"alias": alias}
    if flash:
        return (_("No enabled SMS gateway that can send flash SMS serves these numbers.") if several
                else _("No enabled SMS gateway that can send flash SMS serves this number."))
    return (_("No enabled SMS gateway serves these numbers.") if several
            else _("No enabled SMS gateway serves this number."))


def _accepted(row: MessageRecipient, gateway: SmsGateway, provider_id: str) -> Outcome:
    pushes = gateway.kind == SmsGateway.Kind.SKEBBY or bool(gateway.status_push)
    reason = (_("Accepted by %(gateway)s (%(ref)s); waiting for the delivery report.")
              % {"gateway": gateway.name, "ref": provider_id}) if pushes else ""
    return Outcome(row.id, Status.SENT, reason, provider_id, unit_price=gateway.price_per_segment)


def _through(gateway: SmsGateway, rows: list[MessageRecipient], text: str, order_ref, message_type: str,
             encoding: str, max_segments: int, flash: bool = False
             ) -> tuple[list[Outcome], list[Outcome], DeliveryError | None]:
    """Send what this gateway takes. Returns (taken, ended, transient error that stopped it)."""
    client = client_for(gateway, message_type, encoding, max_segments)
    per_number = gateway.kind == SmsGateway.Kind.HTTP and gateway.per_number
    size = 1 if per_number else max(gateway.batch_size, 1)
    taken: list[Outcome] = []
    ended: list[Outcome] = []
    try:
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            try:
                provider_id = client.send([r.address for r in chunk], text, gateway.sender_id, order_ref(chunk),
                                          flash)
            except LostAnswer as exc:
                reason = _("%(error)s Not sent again, so that it never arrives twice.") % {"error": exc.message}
                ended.extend(Outcome(r.id, Status.UNKNOWN, reason, charged=True, unit_price=gateway.price_per_segment)
                             for r in chunk)
                _record(gateway, chunk, "")
                _rest(gateway)
                return taken, ended, exc
            except DeliveryError as exc:
                if not exc.permanent:
                    logger.warning("SMS gateway %s failed; the batch moves on: %s", gateway.name, exc.message)
                    _rest(gateway)
                    return taken, ended, exc
                ended.extend(Outcome(r.id, Status.FAILED, exc.message) for r in chunk)
                continue
            _record(gateway, chunk, provider_id)
            taken.extend(_accepted(r, gateway, provider_id) for r in chunk)
    finally:
        client.close()
    return taken, ended, None


def _rest(gateway: SmsGateway) -> None:
    """A gateway that just failed goes last for REST, for every worker: the next batches do not
    each pay its timeout or its retries again. It is still tried when the others fail."""
    SmsGateway.objects.filter(pk=gateway.pk).update(resting_until=timezone.now() + REST)


def _record(gateway: SmsGateway, rows: Sequence[MessageRecipient], provider_id: str) -> None:
    """At once, before anything else is sent: this row went (or may have gone) out here."""
    SmsDispatch.objects.bulk_create([
        SmsDispatch(recipient_id=r.id, gateway=gateway, provider_id=provider_id,
                    price=gateway.price_per_segment * Decimal(max(r.segments, 1)))
        for r in rows
    ], ignore_conflicts=True)


def polled_orders(row_ids: Sequence[int]) -> list[tuple[str, int, int]]:
    """(order id, rows, gateway id) of the Skebby orders these rows went out in. Skebby does
    not push its delivery reports: tracking.py polls these orders as it does the method's own."""
    dispatches = (SmsDispatch.objects.filter(recipient_id__in=list(row_ids), gateway__kind=SmsGateway.Kind.SKEBBY)
                  .exclude(provider_id="").values_list("provider_id", "gateway_id"))
    counts = Counter(dispatches)
    return [(order_id, n, gateway_id) for (order_id, gateway_id), n in counts.items()]


# -- pushes ---------------------------------------------------------------------------------


def verify(gateway: SmsGateway, key: str, signature: str, body: bytes) -> bool:
    """The push carries the gateway's secret (?key=) or signs its body with it, compared in constant time."""
    secret = env_secret(gateway.push_secret_env)
    if not secret:
        return False
    if key:
        return hmac.compare_digest(key.encode(), secret.encode())
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(signature) and hmac.compare_digest(signature.encode(), expected.encode())


def receive_status(gateway: SmsGateway, provider_id: str, word: str, number: str = "") -> int:
    """Apply one pushed state; a push for a message not recorded yet is kept for later.
    Idempotent and safe out of order: the first final word ends the row, later ones are ignored."""
    dispatches = SmsDispatch.objects.filter(gateway=gateway, provider_id=provider_id).select_related("recipient")
    if number:
        dispatches = dispatches.filter(recipient__address=number) or dispatches
    if not dispatches or any(d.recipient.status not in WENT_OUT for d in dispatches):
        PendingPush.objects.get_or_create(gateway=gateway, provider_id=provider_id, word=word)
        return 0
    return _apply(gateway, list(dispatches), word)


def _apply(gateway: SmsGateway, dispatches: list[SmsDispatch], word: str) -> int:
    status, meaning = map_status(spec_for(gateway), word)
    if status == Status.PENDING:
        return 0
    open_ones = [d for d in dispatches if not d.final_word]
    if not open_ones:
        return 0
    if status == Status.DELIVERED:
        reason = ""
    elif meaning:
        reason = _("The gateway reported %(state)s (%(meaning)s).") % {"state": word, "meaning": meaning}
    else:
        reason = _("The gateway reported %(state)s.") % {"state": word}
    if status == Status.UNKNOWN and word not in gateway.status_mapping:
        reason = meaning
    with transaction.atomic():
        SmsDispatch.objects.filter(pk__in=[d.pk for d in open_ones], final_word="").update(final_word=word)
        return apply_receipts({d.recipient.code: (status, reason) for d in open_ones})


def match_pending(message_sent_id: int) -> int:
    """Apply the pushes that came before this message's rows were recorded."""
    dispatches = SmsDispatch.objects.filter(recipient__message_sent_id=message_sent_id, recipient__status__in=WENT_OUT)
    keys = set(dispatches.values_list("gateway_id", "provider_id"))
    changed = 0
    for push in PendingPush.objects.filter(provider_id__in={p for _g, p in keys}).select_related("gateway"):
        if (push.gateway_id, push.provider_id) in keys:
            found = list(dispatches.filter(gateway_id=push.gateway_id, provider_id=push.provider_id)
                         .select_related("recipient"))
            changed += _apply(push.gateway, found, push.word)
            push.delete()
    return changed


def received(fields: dict[str, str]) -> Received | None:
    """A reply push as the channel's Received, or None when it lacks a field."""
    if not all(fields.get(k) for k in ("id", "from", "text")):
        return None
    return Received(fields["id"], fields["from"], fields.get("to", ""), fields["text"],
                    timezone.now().strftime("%Y%m%d%H%M%S"))
