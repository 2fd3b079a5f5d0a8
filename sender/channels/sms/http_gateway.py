"""A generic HTTP SMS gateway, described by data (an `SmsGateway` row turned into a `Spec`).

The request is built from templates (`{to}`, `{to_digits}`, `{text}`, `{sender}`, `{ref}`,
`{username}`; a value that is exactly "{recipients}" becomes the list of numbers; a flash SMS
adds the `flash_params` fields, and a gateway without them refuses flash), the
answer is read with dotted paths ("messages.0.message-id"), and pushes are parsed by field
names. The only module that speaks such a provider's HTTP; it knows no model.

Errors become `DeliveryError`: `permanent` when the provider refused for good, transient
(the batch may go to the next gateway) for connection failures, 5xx, 401/403, 429 and the provider
words listed as `failover_words` (no credit, throttled). `LostAnswer` says the request may
have gone out: the caller must not send it again elsewhere.
"""

import json
import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.utils.translation import gettext as _

from sender.channels.sms.gateway import LostAnswer
from sender.exceptions import DeliveryError
from sender.statuses import RecipientStatus as Status

PLACEHOLDERS = frozenset({"to", "to_digits", "text", "sender", "ref", "username"})
RECIPIENTS = "{recipients}"
FINAL = frozenset({Status.DELIVERED, Status.FAILED, Status.UNKNOWN})


class SpecError(ValueError):
    """The gateway's description cannot build a request or read an answer."""


@dataclass(frozen=True)
class Spec:
    name: str
    url: str
    http_method: str = "POST"
    body_format: str = "form"  # form | json | query
    template: Mapping[str, Any] = field(default_factory=dict)
    flash_params: Mapping[str, Any] = field(default_factory=dict)  # added for a flash SMS; empty: no flash
    per_number: bool = True  # one request per number; otherwise one per batch with {recipients}
    auth: str = "none"  # none | basic | bearer | header
    username: str = ""
    auth_header: str = ""
    secret: str = ""
    success_path: str = ""  # empty: any 2xx answer is a success
    success_values: tuple[str, ...] = ()
    id_path: str = ""
    error_path: str = ""
    failover_words: tuple[str, ...] = ()
    status_mapping: Mapping[str, Any] = field(default_factory=dict)  # word → [status, reason]
    status_push: Mapping[str, str] = field(default_factory=dict)  # {"id": field, "status": field}
    incoming_push: Mapping[str, str] = field(default_factory=dict)  # {"id", "from", "to", "text"}
    timeout: float = 10.0


# -- building and reading -------------------------------------------------------------------


class _Values(dict):
    def __missing__(self, key: str) -> str:
        raise SpecError(_("Unknown placeholder {%(name)s}; use one of %(known)s.")
                        % {"name": key, "known": ", ".join("{%s}" % p for p in sorted(PLACEHOLDERS | {"recipients"}))})


def render(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill a template value (strings, lists and objects of them)."""
    if isinstance(value, str):
        if value == RECIPIENTS:
            return list(values["recipients"])
        try:
            return string.Formatter().vformat(value, (), _Values(values))
        except (ValueError, IndexError) as exc:
            raise SpecError(_("The template %(value)r is not valid: %(error)s") % {"value": value, "error": exc}) from None
    if isinstance(value, Mapping):
        return {str(k): render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, values) for v in value]
    return value


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("messages.0.status"), or None."""
    for part in path.split(".") if path else []:
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def build(spec: Spec, numbers: list[str], text: str, sender: str, ref: str, flash: bool = False) -> dict[str, Any]:
    """The arguments of the HTTP request for these numbers (one number when `per_number`); a
    flash SMS carries the gateway's flash fields too (HttpGateway.send refuses flash without them)."""
    values = {"to": ",".join(numbers), "to_digits": ",".join(n.lstrip("+") for n in numbers), "text": text,
              "sender": sender, "ref": ref, "username": spec.username, "recipients": numbers}
    url = render(spec.url, values)
    if not url.startswith(("http://", "https://")):
        raise SpecError(_("The URL must start with http:// or https://."))
    body = render({**dict(spec.template), **(dict(spec.flash_params) if flash else {})}, values)
    request: dict[str, Any] = {"method": spec.http_method.upper(), "url": url, "headers": {}}
    if spec.body_format == "json":
        request["json"] = body
    elif spec.body_format == "query":
        request["params"] = body
    else:
        request["data"] = body
    if spec.auth == "basic":
        request["auth"] = (spec.username, spec.secret)
    elif spec.auth == "bearer":
        request["headers"]["Authorization"] = f"Bearer {spec.secret}"
    elif spec.auth == "header":
        request["headers"][spec.auth_header or "Authorization"] = spec.secret
    return request


def read_answer(spec: Spec, status_code: int, data: Any) -> str:
    """The provider's message id from a parsed answer, or DeliveryError saying why not."""
    word = "" if not spec.success_path else str(dig(data, spec.success_path))
    ok = status_code < 300 and (not spec.success_path or word in spec.success_values)
    if not ok:
        error = dig(data, spec.error_path) if spec.error_path else None
        detail = str(error or word or (str(data)[:200] if data else status_code))
        # refused keys are the gateway's problem, not the number's: another gateway may take it
        transient = status_code >= 500 or status_code in (401, 403, 429) or word in spec.failover_words
        raise DeliveryError(_("%(gateway)s refused the SMS: %(detail)s") % {"gateway": spec.name, "detail": detail},
                            permanent=not transient)
    message_id = dig(data, spec.id_path) if spec.id_path else None
    if spec.id_path and not message_id:
        raise SpecError(_("No message id at “%(path)s” in the answer.") % {"path": spec.id_path})
    return str(message_id or "")


def status_entry(entry: Any) -> tuple[str, str]:
    """A status table entry, [status] or [status, reason], as (status, reason)."""
    status, reason = (list(entry) + [""])[:2]
    return status, reason


def map_status(spec: Spec, word: str) -> tuple[str, str]:
    """(our status, reason) for a provider word; PENDING means "not final yet"."""
    entry = spec.status_mapping.get(word)
    if entry is None:
        return Status.UNKNOWN, _("The gateway reported an unknown state: %(state)s.") % {"state": word}
    return status_entry(entry)


def parse_push(fields: Mapping[str, str], content_type: str, body: bytes, params: Mapping[str, str]) -> dict[str, str]:
    """Our names → values from a push, by the gateway's field names. `params`: the query and
    form fields; a JSON body adds its own (nested fields by dotted path)."""
    data: dict[str, Any] = dict(params)
    if "json" in content_type:
        try:
            loaded = json.loads(body or b"{}")
        except ValueError:
            loaded = {}
        data.update(loaded if isinstance(loaded, dict) else {})
    return {ours: str(value) for ours, theirs in fields.items() if (value := dig(data, theirs)) not in (None, "")}


# -- the client ---------------------------------------------------------------------------


@dataclass
class HttpGateway:
    spec: Spec
    transport: httpx.BaseTransport | None = None
    calls: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=self.spec.timeout, transport=self.transport)

    def close(self) -> None:
        self.http.close()

    def send(self, numbers: list[str], text: str, sender: str, ref: str, flash: bool = False) -> str:
        """Hand one request over; return the provider's message id. A flash SMS to a gateway
        without flash fields is refused for good, never sent as an ordinary one."""
        if flash and not self.spec.flash_params:
            raise DeliveryError(_("%(gateway)s cannot send flash SMS.") % {"gateway": self.spec.name}, permanent=True)
        request = build(self.spec, numbers, text, sender, ref, flash)
        self.calls["send"] += 1
        try:
            response = self.http.request(**request)
        except httpx.ConnectError as exc:
            raise DeliveryError(_("Cannot connect to %(gateway)s: %(error)s")
                                % {"gateway": self.spec.name, "error": exc}) from exc
        except httpx.TransportError as exc:
            raise LostAnswer(_("No answer from %(gateway)s: %(error)s")
                             % {"gateway": self.spec.name, "error": str(exc) or type(exc).__name__}) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        try:
            return read_answer(self.spec, response.status_code, data)
        except SpecError as exc:
            raise LostAnswer(str(exc)) from None


def check(spec: Spec, sample_answer: Any) -> list[str]:
    """Why this description cannot work, as sentences (empty: it can build and read)."""
    problems = []
    if not isinstance(spec.flash_params, Mapping):
        problems.append(_("The flash SMS fields must be an object of field → value, or empty."))
    try:
        build(spec, ["+393471234567"], "Test", "Sender", "ref", flash=isinstance(spec.flash_params, Mapping))
    except SpecError as exc:
        problems.append(str(exc))
    if sample_answer in (None, "", {}):
        problems.append(_("Give a sample of a successful answer, to check how it is read."))
    else:
        try:
            read_answer(spec, 200, sample_answer)
        except (SpecError, DeliveryError) as exc:
            problems.append(_("The sample answer is not read as a success: %(error)s") % {"error": exc})
    for word, entry in spec.status_mapping.items():
        if not isinstance(entry, list | tuple) or not entry or entry[0] not in {Status.PENDING, Status.SENT, *FINAL}:
            problems.append(_("The state %(word)s must map to [status, reason] with a status among %(known)s.")
                            % {"word": word, "known": ", ".join(sorted({Status.PENDING, Status.SENT, *FINAL}))})
    return problems
