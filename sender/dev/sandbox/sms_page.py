"""What the SMS sandbox shows a person, and the other gateway kinds it plays.

Besides Skebby, the sandbox on 127.0.0.1:8025 answers as Twilio
(`POST /2010-04-01/Accounts/<sid>/Messages.json`, form To/From/Body, 201 `{"sid", "status"}`),
as Vonage (`POST /sms/json`, form from/to/text, 200 `{"messages": [{"status": "0", "message-id"}]}`)
and as a plain HTTP gateway (`POST /http/send`, JSON or form with to/text/from, 200
`{"result": "OK", "id"}`), so an `SmsGateway` of any kind can point at it. Credentials are not
checked: it is a sandbox.

Flash SMS, as each kind has them: Vonage's `message-class` 0 (the field takes 0 to 3, anything
else is its status "3", invalid parameters); the plain gateway's `flash` (true or false); Twilio
has no such parameter, so a flash flag sent there would be lost: Sender never sends it one. The
page marks a flash SMS as such.

Unknown fields, decided after the real services and nothing more: Twilio's Messages API
answers 400 with a 21xxx code for a parameter it knows given badly (21604 no `To`, 21602 no
`Body`: the two the fake checks), and documents no refusal of a field it does not know; it
accepts the message and the field is lost (the gateway reference notes kept with the design
cover Skebby and Telegram, and say nothing otherwise). So the fake Twilio ignores unknown fields too:
refusing them would fail sends here that Twilio takes. The price is that a misspelt field
passes here unseen, as it would at Twilio; the Twilio sample (channels/sms/samples.py) keeps
Twilio's own names, and the tests check what the fake received. The sandbox's Vonage and plain
gateway likewise read only their own fields.

Every SMS that arrives is listed on the page (`GET /_sandbox/`), with buttons to report it
delivered or failed, and to answer it. For Skebby the report is what the next poll of the order
gets and the answer waits in the received-SMS list; for the other kinds the sandbox pushes them
to Sender's `/hooks/sms/<gateway>/status/` and `/incoming/`, with that gateway's field names,
words and secret (a `PushTarget` found by `SkebbyState.targets`, which `make run` sets).
The page has no script, nothing inline, and a strict Content-Security-Policy of its own.
"""

import html
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

SKEBBY_FAILURES = {
    "BLACKLISTED": "the number is on a blacklist", "UNKNRCPT": "unknown recipient", "KO": "rejected by the operator",
    "ERROR": "generic sending error", "TIMEOUT": "no delivery information within 48 hours",
}
"""The failures the page offers for a Skebby SMS (Skebby's words, as its order state says them)."""

PAGE_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
"""The page is plain HTML forms and a stylesheet of its own: nothing inline, no script."""

STYLE = """body{font:15px system-ui;margin:2em}form{display:inline-block;margin:.1em .4em .1em 0}
td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.flash{color:#a40000}
"""
"""Served at /_sandbox/style.css."""

_ids = itertools.count(1)


@dataclass
class Arrival:
    """One SMS as it reached the sandbox: which kind of gateway took it, at which path, its
    message id there, and what the page last did with it."""

    kind: str  # skebby | twilio | vonage | http
    path: str  # the request path: which configured gateway it came through
    provider_id: str  # Skebby's order id, Twilio's sid, Vonage's message-id, the plain gateway's id
    number: str
    sender: str
    text: str
    flash: bool = False  # class 0: shown on the screen at once, not stored
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int = field(default_factory=lambda: next(_ids))
    status: str = "accepted"
    replies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PushTarget:
    """Where and how to push for one configured gateway: its hook URLs (with the secret), its
    field names (ours → theirs), and its words for delivered and for each failure."""

    name: str
    status_url: str
    incoming_url: str
    status_fields: dict[str, str]
    incoming_fields: dict[str, str]
    delivered: str
    failures: dict[str, str]  # word → reason


# -- the other kinds' APIs --------------------------------------------------------------------


def form_or_json(content_type: str, raw: bytes) -> dict[str, Any]:
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(raw.decode(errors="replace")))


def twilio(path: str, form: dict[str, Any]) -> tuple[int, dict, list[Arrival]]:
    """Twilio's Messages resource: one number a request; fields it does not know are ignored,
    as Twilio ignores them (the module's docstring says why)."""
    if not form.get("To"):
        return 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}, []
    if not form.get("Body"):
        return 400, {"code": 21602, "message": "Message body is required.", "status": 400}, []
    sid = "SM" + uuid.uuid4().hex
    arrival = Arrival("twilio", path, sid, str(form["To"]), str(form.get("From", "")), str(form["Body"]))
    return 201, {"sid": sid, "status": "queued", "to": form["To"], "from": form.get("From", ""),
                 "body": form["Body"]}, [arrival]


VONAGE_CLASSES = ("0", "1", "2", "3")
"""The values Vonage's `message-class` takes (the data coding scheme's message class); 0 is flash."""


def vonage(path: str, form: dict[str, Any]) -> tuple[int, dict, list[Arrival]]:
    """Vonage's SMS API: always 200; status "0" is success, "2" a missing parameter, "3" an
    invalid one (a `message-class` outside 0-3; the error text's wording is assumed)."""
    missing = [name for name in ("from", "to", "text") if not form.get(name)]
    if missing:
        return 200, {"message-count": "1", "messages": [{"status": "2", "error-text": f"Missing {missing[0]}"}]}, []
    message_class = str(form.get("message-class", ""))
    if "message-class" in form and message_class not in VONAGE_CLASSES:
        return 200, {"message-count": "1", "messages": [{"status": "3",
                                                         "error-text": "Invalid message-class param"}]}, []
    message_id = uuid.uuid4().hex[:16].upper()
    number = str(form["to"])
    arrival = Arrival("vonage", path, message_id, number if number.startswith("+") else f"+{number}",
                      str(form["from"]), str(form["text"]), flash=message_class == "0")
    return 200, {"message-count": "1", "messages": [{"to": number, "message-id": message_id, "status": "0",
                                                     "remaining-balance": "10.00", "message-price": "0.0333",
                                                     "network": "22201"}]}, [arrival]


FLASH_WORDS = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}
"""What the plain gateway's `flash` takes (JSON booleans or form words)."""


def plain(path: str, data: dict[str, Any]) -> tuple[int, dict, list[Arrival]]:
    """A plain HTTP gateway: `to` (a number, a comma-separated list or a list), `text`, `from`,
    and `flash` (true or false, refused otherwise)."""
    numbers = data.get("to") or data.get("recipients") or data.get("recipient") or ""
    numbers = numbers if isinstance(numbers, list) else [n for n in str(numbers).split(",") if n]
    text = data.get("text") or data.get("message") or data.get("body")
    if not numbers or not text:
        return 400, {"result": "KO", "error": "to and text are required"}, []
    flash = data.get("flash", False)
    if not isinstance(flash, bool | str) or flash not in FLASH_WORDS:
        return 400, {"result": "KO", "error": "flash must be true or false"}, []
    message_id = "H" + uuid.uuid4().hex[:15]
    sender = str(data.get("from") or data.get("sender") or "")
    return 200, {"result": "OK", "id": message_id}, [
        Arrival("http", path, message_id, str(n), sender, str(text), flash=FLASH_WORDS[flash]) for n in numbers]


ROUTES: dict[str, Callable[[str, dict[str, Any]], tuple[int, dict, list[Arrival]]]] = {
    "twilio": twilio, "vonage": vonage, "http": plain,
}


def route(path: str) -> str | None:
    """Which of the other kinds a POST path is, if any."""
    if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
        return "twilio"
    if path == "/sms/json":
        return "vonage"
    if path.startswith("/http/"):
        return "http"
    return None


# -- pushing ----------------------------------------------------------------------------------


def push(target: PushTarget, url: str, fields: dict[str, str], values: dict[str, str]) -> str:
    """POST a form with the gateway's field names; what happened, in words for the page."""
    data = {fields[ours]: value for ours, value in values.items() if fields.get(ours)}
    try:
        response = httpx.post(url, data=data, timeout=10)
    except httpx.HTTPError as exc:
        return f"push failed: {exc}"
    if response.status_code != 200:
        return f"push refused by {target.name}: HTTP {response.status_code}"
    return ""


def report(target: PushTarget, arrival: Arrival, word: str) -> str:
    return push(target, target.status_url, target.status_fields,
                {"id": arrival.provider_id, "status": word, "to": arrival.number})


def reply(target: PushTarget, arrival: Arrival, text: str) -> str:
    return push(target, target.incoming_url, target.incoming_fields,
                {"id": "R" + uuid.uuid4().hex[:15], "from": arrival.number, "to": arrival.sender, "text": text})


# -- the page ---------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(arrivals: list[Arrival], targets: Callable[[Arrival], PushTarget | None], notice: str = "") -> str:
    """The newest SMS first, each with its report and reply forms."""
    rows = []
    for a in reversed(arrivals[-100:]):
        if a.kind == "skebby":
            delivered, failures, where = "DLVRD", SKEBBY_FAILURES, "Skebby (read by Sender's next poll)"
        else:
            target = targets(a)
            if target is None:
                rows.append(_row(a, f"{a.kind}: no enabled gateway with a push secret sends to {a.path}", ""))
                continue
            delivered, failures, where = target.delivered, target.failures, f"{a.kind} gateway “{target.name}”"
        options = "".join(f'<option value="{_e(w)}">{_e(w)} ({_e(r)})</option>' for w, r in failures.items())
        label = f"{a.number} {a.at:%H:%M:%S}"
        actions = (
            f'<form method="post"><input type="hidden" name="action" value="report">'
            f'<input type="hidden" name="sms" value="{a.id}"><input type="hidden" name="word" value="{_e(delivered)}">'
            f'<button aria-label="Delivered: {_e(label)}">Delivered</button></form>'
            f'<form method="post"><input type="hidden" name="action" value="report">'
            f'<input type="hidden" name="sms" value="{a.id}">'
            f'<label>reason <select name="word">{options}</select></label> '
            f'<button aria-label="Failed: {_e(label)}">Failed</button></form>'
            f'<form method="post"><input type="hidden" name="action" value="reply">'
            f'<input type="hidden" name="sms" value="{a.id}">'
            f'<label>reply <input name="text" size="18" required></label> '
            f'<button aria-label="Reply: {_e(label)}">Reply</button></form>'
        )
        rows.append(_row(a, where, actions))
    body = "".join(rows) or '<tr><td colspan="7">No SMS yet: send a broadcast by SMS.</td></tr>'
    banner = f'<p role="status">{_e(notice)}</p>' if notice else ""
    return f"""<!doctype html><html lang="en"><meta charset="utf-8"><title>SMS sandbox</title>
<link rel="stylesheet" href="/_sandbox/style.css">
<main><h1>SMS sandbox</h1>
<p>Every SMS a gateway kind played here received: Skebby, Twilio, Vonage or a plain HTTP gateway.
Report one delivered or failed, or answer it as its recipient would.</p>{banner}
<table><caption>SMS received, newest first</caption>
<thead><tr><th scope="col">Number</th><th scope="col">Sender</th><th scope="col">Text</th><th scope="col">Time (UTC)</th>
<th scope="col">Gateway</th><th scope="col">Status</th><th scope="col">Act as the network or the recipient</th></tr></thead>
<tbody>{body}</tbody></table></main></html>"""


def _row(a: Arrival, where: str, actions: str) -> str:
    status = _e(a.status) + "".join(f"<br>reply: {_e(r)}" for r in a.replies)
    flash = '<strong class="flash">Flash SMS</strong> (class 0: shown at once, not stored)<br>' if a.flash else ""
    return (f'<tr data-sms="{a.id}"><td>{_e(a.number)}</td><td>{_e(a.sender)}</td><td>{flash}{_e(a.text)}</td>'
            f'<td>{a.at:%Y-%m-%d %H:%M:%S}</td><td>{_e(where)}</td><td class="status">{status}</td>'
            f"<td>{actions}</td></tr>")
