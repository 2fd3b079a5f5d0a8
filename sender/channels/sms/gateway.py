"""Skebby REST client (httpx): login, session renewal, batched and parametric sends, order
states, credits, received SMS. The only code that speaks Skebby's HTTP; see ../shared/reference/skebby-api.md.

Every answer goes through `raise_for_response`, which turns HTTP and gateway codes into one
`DeliveryError(message, permanent=..., retry_after=...)`. A send is idempotent by its
`order_id`: after a 5xx or a lost answer the client asks the gateway whether that order
exists before sending again, so a recipient never gets the same message twice.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sender.exceptions import DeliveryError
from sender.statuses import RecipientStatus as Status

logger = logging.getLogger(__name__)
T = TypeVar("T")

_KEYS: dict[tuple[str, str, str], tuple[str, str]] = {}
"""(url, username, auth) → (user key, session key or access token), for this process."""


def forget_sessions() -> None:
    """Log in afresh on the next call to each account (keys are otherwise kept for the process)."""
    _KEYS.clear()


DATE_FORMAT = "%Y%m%d%H%M%S"
"""Skebby's dates (yyyyMMddHHmmss)."""

MESSAGE_TYPES = ("GP", "TI", "SI")
"""Skebby's qualities: Classic+ (high), Classic (medium), Basic (low)."""

TYPE_IDS = {"N": "GP", "L": "TI", "LL": "SI"}
"""Skebby's internal message-type ids, which `GET status` may return even with typeAliases=true;
others (EE foreign, AD advertising) are kept as they come."""

MAX_LENGTH = {"GSM-7": 1000, "UCS-2": 450}
"""The longest text Skebby takes, in GSM-7 septets or UCS-2 units (their docs: 1,000 / 450 characters)."""
MAX_LENGTH_SI = 160
"""Basic (SI) messages are one SMS: at most 160 characters."""


def max_length(message_type: str, encoding: str) -> int:
    """The longest text Skebby sends for this quality and encoding ("GSM-7" or "UCS-2")."""
    longest = MAX_LENGTH.get(encoding, MAX_LENGTH["UCS-2"])
    return min(longest, MAX_LENGTH_SI) if message_type == "SI" else longest


STATES: dict[str, str] = {  # SENT depends on the quality: see status_for
    "WAITING": Status.PENDING, "SCHEDULED": Status.PENDING, "WAIT4DLVR": Status.PENDING,
    "SENT": Status.SENT, "DLVRD": Status.DELIVERED,
    "ERROR": Status.FAILED, "TIMEOUT": Status.FAILED, "TOOM4USER": Status.FAILED, "TOOM4NUM": Status.FAILED,
    "UNKNRCPT": Status.FAILED, "UNKNPFX": Status.FAILED, "INVALIDDST": Status.FAILED,
    "BLACKLISTED": Status.FAILED, "KO": Status.FAILED, "INVALIDCONTENTS": Status.FAILED, "DEMO": Status.FAILED,
}
"""Skebby's per-recipient order states → our statuses (PENDING: keep polling). Unknown words → UNKNOWN.
`SENT` is final only for qualities without delivery reports (status_for)."""

MEANINGS = {
    "SENT": gettext_lazy("handed to the operator; this quality has no delivery report"),
    "ERROR": gettext_lazy("generic sending error"),
    "TIMEOUT": gettext_lazy("the operator gave no delivery information within 48 hours"),
    "TOOM4USER": gettext_lazy("too many SMS from this account in 24 hours"),
    "TOOM4NUM": gettext_lazy("too many SMS to this number in 24 hours"),
    "UNKNRCPT": gettext_lazy("unknown recipient"),
    "UNKNPFX": gettext_lazy("unknown prefix"),
    "INVALIDDST": gettext_lazy("invalid destination"),
    "BLACKLISTED": gettext_lazy("the number is on a blacklist"),
    "KO": gettext_lazy("rejected by the operator"),
    "INVALIDCONTENTS": gettext_lazy("the content was rejected"),
    "DEMO": gettext_lazy("sent in demo mode: nothing really went out"),
}


DELIVERY_REPORTS = frozenset({"GP"})
"""Qualities with delivery reports: only Classic+ (TI has a delivery warranty, SI nothing)."""


def status_for(state: str, message_type: str) -> str:
    """Our status for a Skebby state. `SENT` means "handed to the operator": final for TI and
    SI, but for GP a report (DLVRD, ERROR...) may still follow, so it stays open (PENDING)."""
    if state == "SENT" and message_type in DELIVERY_REPORTS:
        return Status.PENDING
    return STATES.get(state, Status.UNKNOWN)


def describe(state: str) -> str:
    """Skebby's state word with its meaning, for a row's reason."""
    meaning = MEANINGS.get(state)
    return f"{state} ({meaning})" if meaning else state


@dataclass(frozen=True)
class Accepted:
    """The gateway took an order. `remaining` is the credit left when it said so."""

    order_id: str
    total_sent: int | None = None
    remaining: int | None = None
    existing: bool = False  # found by asking after a lost answer, not sent now


@dataclass(frozen=True)
class Received:
    """One SMS received on the account's number(s)."""

    id: str
    sender: str
    recipient: str
    text: str
    received_at: str  # yyyyMMddHHmmss, as the gateway gives it


class LostAnswer(DeliveryError):
    """The request may have reached the gateway but no answer came (timeout, reset)."""


class GatewayRefused(DeliveryError):
    """An HTTP error answer from the gateway; `status_code` says which."""

    def __init__(self, message: str, status_code: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.status_code = status_code


@dataclass
class SkebbyClient:
    base_url: str
    username: str
    password: str
    auth: str = "session"  # "session" (login, expires when idle) or "token" (does not expire)
    timeout: float = 10.0
    retries: int = 2  # extra tries after a transient error
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    backoff_max: float = 30.0
    transport: httpx.BaseTransport | None = None
    calls: Counter = field(default_factory=Counter)  # "POST sms" -> count, for measurements
    throttle: Callable[[], None] | None = None  # blocks until the account's shared rate lets an order go

    def __post_init__(self) -> None:
        self._verified = False  # True once these keys worked (or came from a login) in this client
        self.base_url = self.base_url.rstrip("/") + "/"
        self._account = (self.base_url, self.username, self.auth)
        self.http = httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self.transport)

    def __enter__(self) -> "SkebbyClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- authentication -------------------------------------------------------------------

    def login(self) -> None:
        """Get USER_KEY;SESSION_KEY (or ;ACCESS_TOKEN). Wrong credentials are permanent."""
        path = "token" if self.auth == "token" else "login"
        response = self._http("GET", path, params={"username": self.username, "password": self.password})
        if response.status_code in (401, 404):
            raise GatewayRefused(_("Skebby refused the username or password (HTTP %(code)d).")
                                 % {"code": response.status_code}, response.status_code, permanent=True,
                                 scope=GatewayRefused.METHOD)
        raise_for_response(response)
        user_key, _sep, key = response.text.strip().partition(";")
        if not user_key or not key:
            raise DeliveryError(_("Skebby's login answer was not understood: %(body)s") % {"body": response.text[:200]})
        self.keys = (user_key.strip(), key.strip())
        self._verified = True

    @property
    def keys(self) -> tuple[str, str] | None:
        """Keys are shared by the clients of one process: a session lives on between batches."""
        return _KEYS.get(self._account)

    @keys.setter
    def keys(self, value: tuple[str, str] | None) -> None:
        if value is None:
            _KEYS.pop(self._account, None)
        else:
            _KEYS[self._account] = value

    def _headers(self) -> dict[str, str]:
        if self.keys is None:
            self.login()
        user_key, key = self.keys
        return {"user_key": user_key, "Access_token" if self.auth == "token" else "Session_key": key}

    # -- requests ------------------------------------------------------------------------

    def _http(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange. A connection that never opened is transient (nothing was sent)."""
        self.calls[f"{method} {path.split('/')[0]}"] += 1
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise DeliveryError(_("Cannot connect to Skebby at %(url)s: %(error)s")
                                % {"url": self.base_url, "error": exc}) from exc
        except httpx.TransportError as exc:  # timeouts, resets: it may have been processed
            raise LostAnswer(_("No answer from Skebby at %(url)s: %(error)s")
                             % {"url": self.base_url, "error": str(exc) or type(exc).__name__}) from exc

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authenticated call, then the answer mapped. Logs in again once on 401 (expired
        session), and on a 404 while the keys are unproven: Skebby answers 404 for an unknown
        `user_key` as well as for an unknown order, so "not found" is believed only with keys
        that a login just gave or that worked before."""
        response = self._http(method, path, headers=self._headers(), **kwargs)
        if response.status_code == 401 or (response.status_code == 404 and not self._verified):
            logger.info("Skebby answered %d to %s %s; logging in again", response.status_code, method, path)
            self.keys = None
            response = self._http(method, path, headers=self._headers(), **kwargs)
        if response.status_code < 400:
            self._verified = True
        raise_for_response(response)
        return response

    def _wait(self, attempt: int, exc: DeliveryError) -> None:
        delay = exc.retry_after if exc.retry_after is not None else self.backoff * 2 ** attempt
        time.sleep(min(delay, self.backoff_max))

    def _retrying(self, call: Callable[[], T]) -> T:
        """Run an idempotent `call` again after transient errors, with backoff (Retry-After honoured)."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except DeliveryError as exc:
                if exc.permanent or attempt == self.retries:
                    raise
                self._wait(attempt, exc)
        raise AssertionError("unreachable")

    # -- API -----------------------------------------------------------------------------

    def send_sms(self, order_id: str, message: str, recipients: list[str], message_type: str = "GP",
                 encoding: str = "gsm", sender: str = "", max_fragments: int = 7, check_first: bool = False) -> Accepted:
        """Send one order to many recipients. Invalid recipients do not fail the order
        (`allowInvalidRecipients`); their state comes back later as a failure.

        After a 5xx or a lost answer, and first of all when `check_first` (a retried batch),
        the order is looked up: if the gateway has it, it is not sent again.
        """
        body = {"message_type": message_type, "message": message, "recipient": recipients, "sender": sender,
                "order_id": order_id, "encoding": encoding, "max_fragments": max_fragments, "truncate": False,
                "allowInvalidRecipients": True, "returnRemaining": True}
        return self._send_order("sms", body, check_first)

    def send_parametric(self, order_id: str, message: str, recipients: Sequence[Mapping[str, str]],
                        message_type: str = "GP", encoding: str = "gsm", sender: str = "",
                        check_first: bool = False) -> Accepted:
        """Send one text with `${Name}` placeholders to many numbers in one call (`POST paramsms`).
        Each recipient is {"recipient": "+39…", "Name": "value", ...}; Skebby takes them as an
        object keyed "0", "1", ... Each text after substitution must fit the quality's limit
        (`max_length`). Retries and lost answers are handled as for `send_sms`."""
        body = {"message_type": message_type, "message": message, "sender": sender, "order_id": order_id,
                "encoding": encoding, "truncate": False, "allowInvalidRecipients": True, "returnRemaining": True,
                "recipients": {str(i): dict(values) for i, values in enumerate(recipients)}}
        return self._send_order("paramsms", body, check_first)

    def _send_order(self, path: str, body: dict[str, Any], check_first: bool) -> Accepted:
        """POST one order (success is 201 for sms, 200 for paramsms); look it up before any retry."""
        order_id = body["order_id"]
        for attempt in range(self.retries + 1):
            if (check_first or attempt) and self.order_exists(order_id):
                return Accepted(order_id, existing=True)
            if self.throttle is not None:
                self.throttle()
            try:
                data = self.request("POST", path, json=body).json()
            except DeliveryError as exc:
                if exc.permanent or attempt == self.retries:
                    raise
                self._wait(attempt, exc)
                continue
            except ValueError:
                raise LostAnswer(_("Skebby's answer to the send was not JSON.")) from None
            if data.get("result", "OK") != "OK":
                raise DeliveryError(_("Skebby did not accept the order: %(words)s") % {"words": str(data)[:300]},
                                    permanent=True)
            return Accepted(str(data.get("order_id") or order_id), data.get("total_sent"),
                            data.get("remaining_credits"))
        raise AssertionError("unreachable")

    def order_exists(self, order_id: str) -> bool:
        return self.order_states(order_id) is not None

    def order_states(self, order_id: str) -> dict[str, str] | None:
        """destination → Skebby state for one order; None if the gateway does not know it."""
        try:
            data = self._retrying(lambda: self.request("GET", f"sms/{order_id}")).json()
        except GatewayRefused as exc:
            if exc.status_code == 404:
                return None
            raise
        return {str(r["destination"]): str(r["status"]) for r in data.get("recipients", [])}

    def credits(self) -> dict[str, Any]:
        """{"money": float | None, "sms": {type: quantity}}, types always GP/TI/SI (see TYPE_IDS)."""
        data = self._retrying(lambda: self.request("GET", "status",
                                                   params={"getMoney": "true", "typeAliases": "true"})).json()
        sms = {}
        for item in data.get("sms", []):
            try:
                sms[TYPE_IDS.get(str(item["type"]), str(item["type"]))] = int(item["quantity"])
            except (KeyError, TypeError, ValueError):
                logger.warning("Skebby's credit entry was not understood: %r", item)
        return {"money": data.get("money"), "sms": sms}

    def received(self, since: datetime, until: datetime, page: int = 1, size: int = 100) -> tuple[list[Received], bool]:
        """One page of the SMS received between two moments (`GET srsmshistory`), and whether
        the page was full (another may follow). The caller keeps its own read position:
        `newsrsmsmessage` moves the gateway's as it answers, so a crash before storing loses them.

        The field names of a received SMS are not documented (assumed: `id_message`, `sender`,
        `message`, `id_sim`, `sms_date`); one without them is logged and skipped. An answer
        without the list raises, so the read position does not move past what was not read."""
        zone = timezone.get_default_timezone()
        params = {"from": since.astimezone(zone).strftime(DATE_FORMAT), "to": until.astimezone(zone).strftime(DATE_FORMAT),
                  "timezone": str(zone), "pageNumber": page, "pageSize": size}
        response = self._retrying(lambda: self.request("GET", "srsmshistory", params=params))
        try:
            data = response.json()
        except ValueError:
            data = None
        items = data.get("smshistory") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise DeliveryError(_("Skebby's list of received SMS was not understood: %(body)s")
                                % {"body": response.text[:200]})
        return [m for m in map(_received, items) if m is not None], len(items) >= size


def _received(item: Any) -> Received | None:
    """A received SMS from the gateway's words, or None (logged) when a field is missing."""
    try:
        return Received(_field(item, "id_message"), _field(item, "sender"), str(item.get("id_sim") or ""),
                        _field(item, "message"), str(item.get("sms_date") or ""))
    except (KeyError, AttributeError, TypeError) as exc:
        logger.warning("Skipped a received SMS without %s (field names are assumed): %r", exc, item)
        return None


def _field(item: dict, name: str) -> str:
    value = item[name]
    if value is None:
        raise KeyError(name)
    return str(value)


def raise_for_response(response: httpx.Response) -> None:
    """Map an error answer to a DeliveryError: 429 and 5xx transient (with Retry-After),
    401/404 and 400 permanent, with the gateway's own words."""
    code = response.status_code
    if code < 400:
        return
    words = _words(response)
    if code == 429 or code >= 500:
        raise GatewayRefused(_("Skebby is busy or failing (HTTP %(code)d): %(words)s") % {"code": code, "words": words},
                             code, retry_after=_retry_after(response))
    if code == 401:  # wrong or revoked keys: every order would be refused alike
        raise GatewayRefused(_("Skebby refused our keys (HTTP 401): %(words)s") % {"words": words}, code,
                             permanent=True, scope=GatewayRefused.METHOD)
    if code == 404:
        message = _("Skebby does not know this user key or order (HTTP 404): %(words)s")
    else:
        message = _("Skebby refused the request (HTTP %(code)d): %(words)s")
    raise GatewayRefused(message % {"code": code, "words": words}, code, permanent=True)


def _words(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)[:300]
    return str(data)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


__all__ = ["Accepted", "DELIVERY_REPORTS", "GatewayRefused", "LostAnswer", "MESSAGE_TYPES", "Received", "STATES", "SkebbyClient",
           "describe", "max_length", "raise_for_response", "status_for"]
