"""A loopback stand-in for Skebby's REST API (/API/v1.0/REST/), with state and faults.

It speaks the real paths, headers and answers of ../shared/reference/skebby-api.md and
enforces its documented rules: `login`/`token` (text `USER_KEY;KEY`, 404 on wrong
credentials), `user_key` plus `Session_key` or `Access_token` on every other call (404 for
an unknown `user_key`, 401 when a key is missing or expired; session keys die after
`session_idle` seconds without a call), `POST sms` and `POST paramsms` (400 for a bad field,
an order id beyond 32 characters of [A-Za-z0-9._-], a text over 1,000 GSM-7 / 450 UCS-2
characters or 160 for SI, a missing `${Name}`; credits per type; 201 / 200 with `order_id`),
`GET sms/{order_id}` (states that progress over time: GP passes SENT before its report, TI
and SI end at SENT), `DELETE sms/{order_id}`, `GET status` (internal type ids without
typeAliases), `GET newsrsmsmessage` and `GET srsmshistory` (received SMS). Error bodies
`{"result": "KO", "error": ...}` and the received-SMS field names are invented where the
docs say nothing.

Built on http.server, which keeps header names with underscores. Tests drive it through
the Python API (`faults`, `advance`, `receive`, `pin`); other processes through
`GET/POST /_sandbox/` (state and faults as JSON); a person through the page at `GET /_sandbox/`
(sms_page.py: every SMS that arrived, buttons to report it or answer it; the sandbox also plays
Twilio, Vonage and a plain HTTP gateway there).
"""

import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sender.channels.sms.text import UCS2_MULTI, UCS2_SINGLE, analyze
from sender.dev.sandbox import sms_page
from sender.dev.sandbox.sms_page import Arrival, PushTarget

PREFIX = "/API/v1.0/REST/"
TYPES = ("GP", "TI", "SI")
TYPE_IDS = {"GP": "N", "TI": "L", "SI": "LL"}
"""The internal ids `GET status` gives instead of the names without typeAliases=true."""
ROME = ZoneInfo("Europe/Rome")
DATE_FORMATS = ("%d%m%y", "%Y%m%d", "%d%m%y%H%M", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M.0")
E164ISH = re.compile(r"^\+?\d{6,15}$")
MAX_LENGTH = {"gsm": 1000, "ucs2": 450}
"""Skebby's documented limits per encoding; Basic (SI) takes one SMS, 160 characters."""
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
"""A parametric SMS's placeholder: `${Name}`, letters and digits."""
ORDER_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
"""A custom order_id: at most 32 letters, digits, underscores, dots and dashes."""


DEMO_FAILURES = {"13": "BLACKLISTED", "66": "KO"}
"""What `make run`'s sandbox does to numbers ending so, so the demo shows failed deliveries too."""


@dataclass
class Faults:
    """Switchable misbehaviour. `errors` is a queue of HTTP statuses for the next `POST sms`
    calls; `accept_then_fail` processes the send before answering with the error."""
    delay: float = 0.0  # seconds before answering each POST sms
    slow_calls: int = 0  # how many POST sms get the delay (0 = all while delay > 0)
    errors: list[int] = field(default_factory=list)
    accept_then_fail: bool = False
    drop: int = 0  # next N POST sms are processed, then the connection closes without an answer
    rate_limited: int = 0  # next N POST sms answer 429
    retry_after: int = 1
    expire_sessions_after: int | None = None  # after N POST sms, every session key dies
    before_received_answer: Callable[[], None] | None = None  # runs once the gateway took a received-SMS request
    fail_from: int = 0  # the n-th POST sms and every later one answer 503 (0: never); a gateway dying half-way


@dataclass
class Inbound:
    """A received SMS: when it arrived, and its fields as the received-SMS endpoints give them
    (names invented: Skebby does not document them)."""

    at: datetime
    fields: dict[str, str]

    def answer(self, zone: ZoneInfo) -> dict[str, str]:
        answer = dict(self.fields)
        if "sms_date" in answer:
            answer["sms_date"] = self.at.astimezone(zone).strftime("%Y%m%d%H%M%S")
        return answer


@dataclass
class Order:
    id: str
    message_type: str
    created: float
    scheduled: datetime | None
    recipients: dict[str, str | None]  # number -> pinned terminal state, or None to progress
    texts: dict[str, str] = field(default_factory=dict)  # number -> the text it got (placeholders replaced)


class SkebbyState:
    """Accounts, keys, orders, credits and inbox. Thread-safe; times come from `now()`."""
    def __init__(self, accounts: dict[str, str] | None = None, credits: dict[str, int] | None = None,
                 session_idle: float = 300, step: float = 2.0, fail_endings: dict[str, str] | None = None):
        self.lock = threading.RLock()
        self.accounts = accounts or {"sandbox": "sandbox"}
        self.user_keys = {name: f"U{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:10].upper()}" for name in self.accounts}
        self.sessions: dict[str, tuple[str, float]] = {}  # session key -> (user key, last used)
        self.tokens: dict[str, str] = {}  # access token -> user key
        self.credits = credits if credits is not None else {"GP": 1_000_000, "TI": 1_000_000, "SI": 1_000_000}
        self.money = 1000.0
        self.aliases_ignored = False  # GET status answers internal type ids even with typeAliases=true
        self.session_idle = session_idle
        self.step = step  # seconds per state step: WAITING -> SENT -> WAIT4DLVR -> DLVRD (GP); TI, SI end at SENT
        self.offset = 0.0
        self.orders: dict[str, Order] = {}
        self.invalid: set[str] = set()  # numbers the gateway deems invalid
        self.pinned: dict[str, str] = {}  # number -> terminal state (ERROR, BLACKLISTED, ...)
        self.fail_endings = fail_endings or {}  # "13" -> "BLACKLISTED": every number ending in 13 (for demos)
        self.inbox: list[Inbound] = []
        self.inbox_cursor = 0  # the read position newsrsmsmessage moves as it answers
        self.faults = Faults()
        self.received: Counter[str] = Counter()  # number -> messages accepted for it
        self.calls: Counter[str] = Counter()  # "POST sms", "GET login", ...
        self.connections = 0  # TCP connections accepted: a client that keeps one open shows 1
        self.requests: list[dict[str, Any]] = []
        self.record_requests = True  # also keeps `arrived`, what the page lists (the bench turns both off)
        self.arrived: list[Arrival] = []
        self.reported: dict[tuple[str, str], str] = {}  # (order id, number) -> the state the page reported
        self.targets: Callable[[Arrival], PushTarget | None] = lambda arrival: None  # set by `make run`

    # -- Python API for tests and the bench ----------------------------------------------

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        """Let time pass: sessions idle, orders progress."""
        with self.lock:
            self.offset += seconds

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def pin(self, number: str, state: str) -> None:
        """Make `number` end in `state` (e.g. "BLACKLISTED") instead of DLVRD."""
        self.pinned[number] = state

    def receive(self, sender: str, text: str, sim: str = "+393400000000") -> dict[str, str]:
        """An SMS arrives from `sender` now (wall clock: received SMS are dated, not stepped);
        the received-SMS endpoints return it. The fields are returned, for a test to rename one."""
        with self.lock:
            fields = {"id_message": str(len(self.inbox) + 1), "id_sim": sim, "sender": sender, "message": text,
                      "sms_date": "", "keyword": ""}
            self.inbox.append(Inbound(datetime.now(UTC), fields))
        return fields

    def arrive(self, arrivals: list[Arrival]) -> None:
        """An SMS reached one of the other kinds the sandbox plays (sms_page.ROUTES)."""
        with self.lock:
            self.received.update(a.number for a in arrivals)
            if self.record_requests:
                self.arrived.extend(arrivals)

    def act(self, action: str, sms_id: int, word: str = "", text: str = "") -> str:
        """What the page's buttons do: report an SMS delivered or failed (`word`, the gateway's),
        or answer it with `text`. Returns a problem in words, or ""."""
        with self.lock:
            arrival = next((a for a in self.arrived if a.id == sms_id), None)
        if arrival is None:
            return "No such SMS."
        target = None if arrival.kind == "skebby" else self.targets(arrival)
        if arrival.kind != "skebby" and target is None:
            return f"No enabled gateway with a push secret sends to {arrival.path}."
        if action == "report" and word:
            if target is None:
                with self.lock:
                    self.reported[(arrival.provider_id, arrival.number)] = word
                problem, delivered = "", word == "DLVRD"
            else:
                problem, delivered = sms_page.report(target, arrival, word), word == target.delivered
            arrival.status = problem or f"{'delivered' if delivered else 'failed'} ({word})"
            return problem
        if action == "reply" and text:
            problem = sms_page.reply(target, arrival, text) if target else ""
            if target is None:
                self.receive(arrival.number, text, sim=arrival.sender or "+393400000000")
            if not problem:
                arrival.replies.append(text)
            return problem
        return "Nothing to do."

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"calls": dict(self.calls), "orders": len(self.orders), "numbers": len(self.received),
                    "messages": sum(self.received.values()), "twice": sorted(n for n, c in self.received.items() if c > 1),
                    "credits": dict(self.credits), "faults": asdict(self.faults)}

    # -- authentication --------------------------------------------------------------------

    def login(self, query: dict[str, str], token: bool) -> tuple[int, str]:
        name, password = query.get("username", ""), query.get("password", "")
        if self.accounts.get(name) != password or not name:
            return 404, "credentials are incorrect"
        key = secrets.token_hex(12)
        with self.lock:
            if token:
                self.tokens[key] = self.user_keys[name]
            else:
                self.sessions[key] = (self.user_keys[name], self.now())
        return 200, f"{self.user_keys[name]};{key}"

    def known_user(self, headers) -> bool:
        """A `user_key` that no account has is a 404, as Skebby documents ("the User_key was
        not found"), on `GET sms/{order_id}` too, where 404 also means an unknown order."""
        user_key = headers.get("user_key")
        return user_key is None or user_key in self.user_keys.values()

    def authorized(self, headers) -> bool:
        user_key = headers.get("user_key")
        session, token = headers.get("Session_key"), headers.get("Access_token")
        with self.lock:
            if token:
                return user_key is not None and self.tokens.get(token) == user_key
            entry = self.sessions.get(session or "")
            if not entry or entry[0] != user_key:
                return False
            if self.now() - entry[1] > self.session_idle:
                del self.sessions[session]
                return False
            self.sessions[session] = (user_key, self.now())  # sliding window
            return True

    # -- sending ---------------------------------------------------------------------------

    def send(self, body: Any) -> tuple[int, dict]:
        """`POST sms`: one text to a `recipient` list; 201."""
        problem = _validate(body) or _validate_text(body, body["message"])
        if problem:
            return 400, {"result": "KO", "error": problem}
        return self._accept(body, {str(n): body["message"] for n in body["recipient"]}, 201)

    def send_parametric(self, body: Any) -> tuple[int, dict]:
        """`POST paramsms`: `recipients` is an object of {"recipient": "+39…", "Name": "value"},
        `${Name}` in the text is replaced per recipient, each text must fit the limits; 200."""
        problem = _validate(body, "recipients")
        if problem:
            return 400, {"result": "KO", "error": problem}
        texts = {}
        for key, values in body["recipients"].items():
            if not isinstance(values, dict) or not isinstance(values.get("recipient"), str):
                return 400, {"result": "KO", "error": f"recipients[{key}] needs a recipient"}
            text, missing = _substitute(body["message"], values)
            problem = f"Missing parameter {missing}" if missing else _validate_text(body, text)
            if problem:
                return 400, {"result": "KO", "error": f"{problem} (recipient {values['recipient']})"}
            texts[values["recipient"]] = text
        return self._accept(body, texts, 200)

    def _accept(self, body: dict, texts: dict[str, str], success: int) -> tuple[int, dict]:
        """Take an order of `texts` (number -> text): invalid numbers, credit, order id, states."""
        allow_invalid = _bool(body.get("allowInvalidRecipients", False))
        numbers = list(texts)
        bad = [n for n in numbers if n in self.invalid or not E164ISH.match(n)]
        if bad and not allow_invalid:
            return 400, {"result": "KO", "error": f"Invalid recipient: {bad[0]}"}
        kind = body["message_type"]
        good = [n for n in numbers if n not in bad]
        parts = sum(_parts(texts[n], body.get("encoding", "gsm")) for n in good)
        with self.lock:
            if self.credits.get(kind, 0) < parts:
                return 400, {"result": "KO", "error": "Not enough credit"}
            order_id = str(body.get("order_id") or uuid.uuid4())
            if order_id in self.orders:
                return 400, {"result": "KO", "error": f"Duplicate order_id: {order_id}"}
            self.credits[kind] -= parts
            recipients = {n: ("UNKNRCPT" if n in bad else self.pinned.get(n) or self._ending(n)) for n in numbers}
            scheduled = _date(body.get("scheduled_delivery_time"))
            self.orders[order_id] = Order(order_id, kind, self.now(), scheduled, recipients,
                                          {n: texts[n] for n in good})
            self.received.update(good)
            if self.record_requests:
                self.arrived.extend(Arrival("skebby", PREFIX + "sms", order_id, n, str(body.get("sender") or ""), texts[n])
                                    for n in good)
        total = parts if _bool(body.get("returnCredits", False)) else len(good)
        answer = {"result": "OK", "order_id": order_id, "total_sent": total,
                  "internal_order_id": uuid.uuid4().hex[:12].upper()}
        if _bool(body.get("returnRemaining", False)):
            answer["remaining_credits"] = self.credits[kind]
        return success, answer

    def _ending(self, number: str) -> str | None:
        return next((state for end, state in self.fail_endings.items() if number.endswith(end)), None)

    def state(self, order_id: str) -> tuple[int, dict]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"result": "KO", "error": "order not found"}
            elapsed = self.now() - order.created
            stamp = (datetime.now() + timedelta(seconds=self.offset)).strftime("%Y%m%d%H%M%S")
            rows = [{"destination": n, "delivery_date": stamp,
                     "status": self.reported.get((order_id, n)) or self._progress(order, pinned, elapsed)}
                    for n, pinned in order.recipients.items()]
        return 200, {"result": "OK", "recipient_number": len(rows), "recipients": rows}

    def _progress(self, order: Order, pinned: str | None, elapsed: float) -> str:
        if order.scheduled and order.scheduled > datetime.now() + timedelta(seconds=self.offset):
            return "SCHEDULED"
        if elapsed < self.step:
            return "WAITING"
        if order.message_type != "GP":
            return pinned or "SENT"  # only Classic+ has delivery reports: TI and SI end at SENT
        if elapsed < 2 * self.step:
            return "SENT"  # handed to the operator; the report (or the failure) comes later
        if pinned:
            return pinned
        return "WAIT4DLVR" if elapsed < 3 * self.step else "DLVRD"

    def delete(self, order_id: str) -> tuple[int, dict]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None or self._progress(order, None, self.now() - order.created) != "SCHEDULED":
                return 404, {"result": "KO", "error": "order not found or not scheduled"}
            del self.orders[order_id]
        return 200, {"result": "OK"}

    def status(self, query: dict[str, str]) -> tuple[int, dict]:
        """Credit per type: internal ids (N, L, LL) unless `typeAliases=true`, and always when
        `aliases_ignored` (sources disagree on whether Skebby honours the flag)."""
        aliases = query.get("typeAliases") == "true" and not self.aliases_ignored
        answer: dict[str, Any] = {"sms": [{"type": t if aliases else TYPE_IDS.get(t, t), "quantity": q}
                                          for t, q in self.credits.items()]}
        if query.get("getMoney") == "true":
            answer["money"] = self.money
        return 200, answer

    def new_received(self, query: dict[str, str]) -> tuple[int, dict]:
        """`GET newsrsmsmessage`: up to `limit` (≤ 100) SMS since the previous call; the read
        position moves as it answers, whether or not the caller gets to store them."""
        limit = min(int(query.get("limit", 100) or 100), 100)
        with self.lock:
            messages = self.inbox[self.inbox_cursor:self.inbox_cursor + limit]
            self.inbox_cursor += len(messages)
        return 200, {"result": "OK", "smshistory": [m.answer(ROME) for m in messages]}

    def history(self, query: dict[str, str], sims: list[str]) -> tuple[int, dict]:
        """`GET srsmshistory[/{id_sim}]?from=&to=&timezone=&pageNumber=&pageSize=`: the SMS
        received between two dates (yyyyMMddHHmmss, in `timezone`, both included), oldest
        first, a page at a time; 400 when `from` is missing or a value is malformed."""
        try:
            zone = ZoneInfo(query.get("timezone") or "Europe/Rome")
        except (ZoneInfoNotFoundError, ValueError):
            return 400, {"result": "KO", "error": f"Invalid timezone: {query.get('timezone')}"}
        start = _stamp(query.get("from", ""), zone)
        end = _stamp(query["to"], zone) if query.get("to") else datetime.now(UTC)
        if start is None or end is None:
            return 400, {"result": "KO", "error": "from (required) and to must be dates as yyyyMMddHHmmss"}
        try:
            page, size = int(query.get("pageNumber") or 1), int(query.get("pageSize") or 10)
        except ValueError:
            page = size = 0
        if page < 1 or size < 1:
            return 400, {"result": "KO", "error": "pageNumber and pageSize must be positive numbers"}
        with self.lock:
            hits = [m for m in self.inbox if start <= m.at.replace(microsecond=0) <= end
                    and (not sims or m.fields.get("id_sim") in sims)]
        chunk = hits[(page - 1) * size:page * size]
        return 200, {"result": "OK", "smshistory": [m.answer(zone) for m in chunk], "pageNumber": page,
                     "pageSize": size, "total": len(hits)}


def _stamp(value: str, zone: ZoneInfo) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=zone)
    except ValueError:
        return None


def _validate(body: Any, recipients: str = "recipient") -> str:
    """What `POST sms` (a `recipient` list) and `POST paramsms` (a `recipients` object) share."""
    if not isinstance(body, dict):
        return "The body must be a JSON object"
    for name in ("message_type", "message", recipients):
        if not body.get(name):
            return f"Missing required field: {name}"
    if body["message_type"] not in TYPES:
        return f"Invalid message_type: {body['message_type']}"
    if recipients == "recipient" and not isinstance(body["recipient"], list):
        return "recipient must be a list"
    if recipients == "recipients" and not isinstance(body["recipients"], dict):
        return 'recipients must be an object: {"0": {"recipient": "+39...", "Name": "value"}, ...}'
    if body.get("order_id") and not ORDER_ID.fullmatch(str(body["order_id"])):
        return (f"Invalid order_id: {body['order_id']} (at most 32 letters, digits, underscores, dots "
                "and dashes)")
    if body.get("encoding", "gsm") not in ("gsm", "ucs2"):
        return f"Invalid encoding: {body['encoding']}"
    for name in ("allowInvalidRecipients", "returnCredits", "returnRemaining", "truncate"):
        if name in body and body[name] not in (True, False, "true", "false"):
            return f"{name} must be a boolean"
    if body.get("scheduled_delivery_time") and _date(body["scheduled_delivery_time"]) is None:
        return f"Invalid scheduled_delivery_time: {body['scheduled_delivery_time']}"
    return ""


def _validate_text(body: dict, text: str) -> str:
    """The text as sent (for paramsms: after substitution) within the limits of its quality."""
    length, longest = _length(text, body.get("encoding", "gsm")), _longest(body)
    if length > longest:
        return (f"The message is too long: {length} characters, at most {longest} for {body['message_type']} "
                f"with {body.get('encoding', 'gsm')} encoding")
    max_fragments = int(body.get("max_fragments", 7))
    if not _bool(body.get("truncate", True)) and _parts(text, body.get("encoding", "gsm")) > max_fragments:
        return f"The message needs more than {max_fragments} fragments"
    return ""


def _substitute(text: str, values: dict) -> tuple[str, str]:
    """`${Name}` replaced by the recipient's value; and the first name it lacks, if any."""
    missing = [name for name in PLACEHOLDER.findall(text) if not isinstance(values.get(name), str)]
    if missing:
        return text, missing[0]
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text), ""


def _length(text: str, encoding: str) -> int:
    """Characters as the gateway counts them: GSM-7 septets (extension characters count two) or UTF-16 units."""
    info = analyze(text)
    return len(info.text.encode("utf-16-le")) // 2 if encoding == "ucs2" or info.encoding == "UCS-2" else info.units


def _longest(body: dict) -> int:
    longest = MAX_LENGTH[body.get("encoding", "gsm")]
    return min(longest, 160) if body["message_type"] == "SI" else longest


def _bool(value: Any) -> bool:
    return value is True or value == "true"


def _date(value: str | None) -> datetime | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value or "", fmt)
        except ValueError:
            continue
    return None


def _parts(text: str, encoding: str) -> int:
    """Fragments billed, counted as the product counts them (GSM-7 unless told UCS-2)."""
    info = analyze(text)
    if encoding == "gsm" or info.encoding == "UCS-2":
        return max(info.segments, 1)
    units = len(info.text.encode("utf-16-le")) // 2
    return 1 if units <= UCS2_SINGLE else -(-units // UCS2_MULTI)


class Handler(BaseHTTPRequestHandler):
    server: "SkebbySandbox"
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the bench call it a lot
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path.rstrip("/") == "/_sandbox":
            return self._control(method, raw, query)
        if parts.path == "/_sandbox/style.css":
            return self._send(200, sms_page.STYLE, content_type="text/css; charset=utf-8")
        kind = sms_page.route(parts.path) if method == "POST" else None
        if kind is not None:
            with state.lock:
                state.calls[f"POST {kind}"] += 1
            status, answer, arrivals = sms_page.ROUTES[kind](
                parts.path, sms_page.form_or_json(self.headers.get("Content-Type", ""), raw))
            state.arrive(arrivals)
            return self._send(status, answer)
        if not parts.path.startswith(PREFIX):
            return self._send(404, {"result": "KO", "error": "Not found"})
        path = parts.path[len(PREFIX):]
        route = path.split("/")[0]
        with state.lock:
            state.calls[f"{method} {route}"] += 1
            if state.record_requests:
                state.requests.append({"method": method, "path": path, "query": query,
                                       "headers": dict(self.headers.items()), "body": raw[:2000].decode(errors="replace")})
        if method == "GET" and path in ("login", "token"):
            status, text = state.login(query, token=path == "token")
            return self._send(status, text)
        if not state.known_user(self.headers):
            return self._send(404, {"result": "KO", "error": "User_key not found"})
        if not state.authorized(self.headers):
            return self._send(401, "Unauthorized")
        if method == "POST" and path in ("sms", "paramsms"):
            return self._post_sms(raw, parametric=path == "paramsms")
        if method == "GET" and route == "sms" and path.count("/") == 1:
            return self._send(*state.state(path.split("/")[1]))
        if method == "DELETE" and route == "sms" and path.count("/") == 1:
            return self._send(*state.delete(path.split("/")[1]))
        if method == "GET" and path == "status":
            return self._send(*state.status(query))
        if method == "GET" and path == "checksession":
            return self._send(200, "true")
        if method == "GET" and route == "newsrsmsmessage":
            return self._received(*state.new_received(query))
        if method == "GET" and route == "srsmshistory" and path.count("/") <= 1:
            sims = path.split("/")[1].split(",") if "/" in path else []
            return self._received(*state.history(query, sims))
        return self._send(404, {"result": "KO", "error": "Not found"})

    def _received(self, status: int, body: dict) -> None:
        """Answer a received-SMS request, after `faults.before_received_answer` (a test may kill
        the caller there: the gateway has served the request, the caller never stores it)."""
        hook = self.server.state.faults.before_received_answer
        if hook is not None:
            hook()
        try:
            self._send(status, body)
        except OSError:  # the caller is gone
            self.close_connection = True

    def _post_sms(self, raw: bytes, parametric: bool = False) -> None:
        state, faults = self.server.state, self.server.state.faults
        with state.lock:
            if faults.rate_limited:
                faults.rate_limited -= 1
                return self._send(429, {"result": "KO", "error": "Too many requests"},
                                  {"Retry-After": str(faults.retry_after)})
            error = faults.errors.pop(0) if faults.errors else None
            if faults.fail_from and state.calls["POST sms"] + state.calls["POST paramsms"] >= faults.fail_from:
                error = 503
            slow = faults.delay
            if faults.slow_calls > 0:
                faults.slow_calls -= 1
                if faults.slow_calls == 0:
                    faults.delay = 0
        if error and not faults.accept_then_fail:
            return self._send(error, {"result": "KO", "error": "Internal error"})
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._send(400, {"result": "KO", "error": "Malformed JSON"})
        status, answer = state.send_parametric(body) if parametric else state.send(body)
        with state.lock:
            drop = faults.drop > 0
            faults.drop -= drop
            if faults.expire_sessions_after is not None:
                faults.expire_sessions_after -= 1
                if faults.expire_sessions_after <= 0:
                    state.sessions.clear()
                    faults.expire_sessions_after = None
        if slow:
            time.sleep(slow)
        if drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if error:
            return self._send(error, {"result": "KO", "error": "Internal error"})
        self._send(status, answer)

    def _control(self, method: str, raw: bytes, query: dict[str, str]) -> None:
        """GET: the page (a browser) or the state as JSON (`?json`, or any other client); POST:
        a form from the page (act, then back to it) or JSON (faults, time, received SMS)."""
        state = self.server.state
        if method == "GET" and "json" not in query and "text/html" in self.headers.get("Accept", ""):
            with state.lock:
                arrivals = list(state.arrived)
            text = sms_page.page(arrivals, state.targets, query.get("notice", ""))
            return self._send(200, text, {"Content-Security-Policy": sms_page.PAGE_CSP}, "text/html; charset=utf-8")
        if method == "POST" and "form" in self.headers.get("Content-Type", ""):
            form = dict(parse_qsl(raw.decode(errors="replace")))
            try:
                sms_id = int(form.get("sms", ""))
            except ValueError:
                sms_id = 0
            problem = state.act(form.get("action", ""), sms_id, form.get("word", ""), form.get("text", ""))
            self.send_response(303)
            self.send_header("Location", "/_sandbox/" + (f"?{urlencode({'notice': problem})}" if problem else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if method == "POST":
            changes = json.loads(raw or b"{}")
            with state.lock:
                for name, value in changes.get("faults", {}).items():
                    setattr(state.faults, name, value)
                if "step" in changes:
                    state.step = float(changes["step"])
                if changes.get("advance"):
                    state.advance(float(changes["advance"]))
                for number, text in changes.get("receive", []):
                    state.receive(number, text)
        self._send(200, state.summary())

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, content_type: str = "") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type or ("text/plain" if isinstance(body, str) else "application/json"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class SkebbySandbox(ThreadingHTTPServer):
    """The sandbox server. `start()` serves in a thread; `url` is the API base."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: SkebbyState | None = None):
        super().__init__((host, port), Handler)
        self.state = state or SkebbyState()
        self.thread: threading.Thread | None = None

    def process_request(self, request, client_address) -> None:
        with self.state.lock:
            self.state.connections += 1
        super().process_request(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def start(self) -> "SkebbySandbox":
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="skebby-sandbox",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start(host: str = "127.0.0.1", port: int = 0, **state: Any) -> SkebbySandbox:
    return SkebbySandbox(host, port, SkebbyState(**state)).start()


class BenchGateway:
    """The sandbox as the benchmark's SMS gateway: SENDER pointed at it, its counts read back."""
    kind = "skebby-sandbox"

    def __init__(self, sender: dict[str, Any], batch_size: int | None = None):
        self.server = SkebbySandbox(state=SkebbyState(step=3600))
        self.server.state.record_requests = False
        self.sender, self.batch_size = sender, batch_size

    def __enter__(self) -> "BenchGateway":
        self.server.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def sender_settings(self) -> dict[str, Any]:
        methods = dict(self.sender["METHODS"])
        sms = methods["sms"]
        options = {**sms.get("OPTIONS", {}), "backend": "skebby", "url": self.server.url, "username": "sandbox",
                   "password": "sandbox", "poll_interval": 3600}
        if self.batch_size:
            options["batch_size"] = self.batch_size
        methods["sms"] = {**sms, "OPTIONS": options}
        return {**self.sender, "METHODS": methods}

    def stop(self) -> int:
        """Stop the sandbox (once); return how many messages it accepted."""
        if self.server.thread is not None:
            self.server.stop()
            self.server.thread = None
        return self.server.state.summary()["messages"]

    def summary(self) -> dict[str, Any]:
        return self.server.state.summary()
