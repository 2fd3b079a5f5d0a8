"""A loopback stand-in for the Telegram Bot API, with state, limits and faults.

It speaks the real shape (../shared/reference/telegram.md): `POST /bot<token>/<method>`
with query, form, multipart or JSON parameters; `{"ok": true, "result": ...}` or
`{"ok": false, "error_code", "description", "parameters"}` with the HTTP status equal to
the error code. Methods: getMe, sendMessage, sendPhoto, sendDocument, getFile,
setWebhook, deleteWebhook, getWebhookInfo, getUpdates; file bytes at
`/file/bot<token>/<path>`. Malformed token → 404, unknown token → 401.

Limits, counted on the send methods the moment they are accepted: more than `rate`
messages in the last second overall, or a second message to one chat within
`chat_interval` seconds, are refused with 429 and `parameters.retry_after`. Chats can be
blocked (403), deactivated (403) or unknown (400 "chat not found"); `faults` adds 429
storms and slow answers. Updates pushed with `push()` (or the helpers for `/start`,
contacts and text) wait for getUpdates, or are POSTed to the webhook with the
`X-Telegram-Bot-Api-Secret-Token` header when one is set.

Tests drive it through this Python API; other processes (and a person trying the bot
with `make run`) through `GET /_sandbox/` (a small page) and `POST /_sandbox/` (JSON).
"""

import hashlib
import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import asdict, dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "123456789:SANDBOX-sender-bot-token"
TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
SEND_METHODS = {"sendmessage", "sendphoto", "senddocument"}
TEXT_MAX, CAPTION_MAX = 4096, 1024


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Faults:
    """Switchable misbehaviour: the next `flood` send calls answer 429 with `retry_after`;
    every send call is answered `delay` seconds late (a slow server)."""

    flood: int = 0
    retry_after: int = 1
    delay: float = 0.0


class TelegramState:
    """Everything the fake Telegram knows. Thread-safe behind one lock."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "sender_sandbox_bot", rate: float = 30,
                 chat_interval: float = 1.0):
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        self.token = token
        self.bot = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Sender sandbox",
                    "username": username, "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self.rate = rate
        self.chat_interval = chat_interval
        self.faults = Faults()
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.missing: set[int] = set()
        self.names: dict[int, str] = {}  # user id -> first name, for updates and the page
        self.sent: list[dict[str, Any]] = []  # every accepted send: method, chat_id, text, file_id, at
        self.calls: Counter[str] = Counter()  # method -> calls, refused ones included
        self.refused: Counter[int] = Counter()  # error code -> how many answers
        self.flood_times: list[tuple[float, int]] = []  # (time.monotonic, chat id) of each 429
        self.uploads = 0  # files received as bytes
        self.files: dict[str, dict[str, Any]] = {}  # file_id -> {name, mime, data, path, unique}
        self.window: deque[float] = deque()  # accept times of send calls in the last second
        self.last_to_chat: dict[int, float] = {}
        self.message_ids: Counter[int] = Counter()
        self.updates: list[dict[str, Any]] = []  # pending, oldest first
        self.next_update_id = 1000
        self.webhook: dict[str, Any] = {"url": "", "secret": "", "allowed_updates": None,
                                        "last_error_message": "", "last_error_date": 0}
        self.deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status) of webhook POSTs
        self._wake_webhook = threading.Event()
        self.auto_deliver = True  # tests switch it off and call deliver_pending() themselves
        self.running = True

    # -- Python API for tests, the bench and the control page ------------------------------

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {"sent": len(self.sent), "uploads": self.uploads, "calls": dict(self.calls),
                    "refused": {str(k): v for k, v in self.refused.items()}, "pending_updates": len(self.updates),
                    "webhook": self.webhook["url"], "faults": asdict(self.faults),
                    "blocked": sorted(self.blocked), "missing": sorted(self.missing)}

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.sent if s["chat_id"] == int(chat_id)]

    def max_per_second(self) -> int:
        """The most sends accepted within any one-second window (what the limit caps)."""
        with self.lock:
            times = sorted(s["at"] for s in self.sent)
        best, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def min_chat_gap(self) -> float | None:
        """The shortest time between two sends accepted for the same chat."""
        by_chat: dict[int, list[float]] = {}
        with self.lock:
            for s in self.sent:
                by_chat.setdefault(s["chat_id"], []).append(s["at"])
        gaps = [b - a for times in by_chat.values() for a, b in zip(times, times[1:])]
        return min(gaps) if gaps else None

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update holding `payload` under `kind` ("message", "my_chat_member"...)."""
        with self.lock:
            self.next_update_id += 1
            update = {"update_id": self.next_update_id, kind: payload}
            self.updates.append(update)
            self.arrived.notify_all()
        self._wake_webhook.set()
        return update["update_id"]

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": self.names.get(user_id, f"User {user_id}"),
                "language_code": "en"}

    def _incoming(self, user_id: int, **fields: Any) -> dict[str, Any]:
        with self.lock:
            self.message_ids[user_id] += 1
            number = self.message_ids[user_id]
        user = self._user(user_id)
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        return {"message_id": number, "date": int(time.time()), "chat": chat, "from": user, **fields}

    def send_text(self, user_id: int, text: str) -> int:
        """The user writes `text` to the bot (a command gets its bot_command entity)."""
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.push("message", self._incoming(user_id, **fields))

    def start(self, user_id: int, payload: str = "") -> int:
        """The user taps Start, through a deep link when `payload` is given."""
        return self.send_text(user_id, f"/start {payload}" if payload else "/start")

    def share_contact(self, user_id: int, phone: str, owner_id: int | None = None, first_name: str = "") -> int:
        """The user shares a contact card: their own (`owner_id` None) or someone else's."""
        contact = {"phone_number": phone, "first_name": first_name or self.names.get(user_id, "Someone"),
                   "user_id": user_id if owner_id is None else owner_id}
        return self.push("message", self._incoming(user_id, contact=contact))

    def block(self, user_id: int) -> int:
        """The user blocks the bot: later sends get 403, and the bot hears of it."""
        with self.lock:
            self.blocked.add(int(user_id))
        status = {"user": self._user(user_id), "status": "member"}
        return self.push("my_chat_member", {
            "chat": {"id": user_id, "type": "private"}, "from": self._user(user_id), "date": int(time.time()),
            "old_chat_member": {**status, "user": self.bot}, "new_chat_member": {"user": self.bot, "status": "kicked", "until_date": 0},
        })

    def deliver_pending(self) -> list[int]:
        """POST every pending update to the webhook now; returns the HTTP statuses."""
        statuses = []
        while True:
            with self.lock:
                if not self.webhook["url"] or not self.updates:
                    return statuses
                update, url, secret = self.updates[0], self.webhook["url"], self.webhook["secret"]
            status = _post_json(url, update, secret)
            with self.lock:
                self.deliveries.append((update["update_id"], status))
                statuses.append(status)
                if 200 <= status < 300:
                    if self.updates and self.updates[0] is update:
                        self.updates.pop(0)
                else:
                    self.webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
                    self.webhook["last_error_date"] = int(time.time())
                    return statuses

    def _webhook_loop(self) -> None:
        """Deliver updates to the webhook as they come; a refused one is tried again later."""
        while self.running:
            self._wake_webhook.wait(timeout=1.0)
            self._wake_webhook.clear()
            if not self.running:
                return
            if not self.auto_deliver:
                continue
            statuses = self.deliver_pending()
            if statuses and not 200 <= statuses[-1] < 300:
                time.sleep(1.0)
                self._wake_webhook.set()

    # -- the API ---------------------------------------------------------------------------

    def call(self, token: str, method: str, params: dict[str, Any], files: dict[str, dict],
             arrived: float | None = None) -> Any:
        """Answer one API call; limits count from `arrived`, when the request came in."""
        if not TOKEN_SHAPE.match(token):
            raise ApiError(404, "Not Found")
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        handler = getattr(self, f"api_{method.lower()}", None)
        if handler is None and method.lower() not in SEND_METHODS:
            raise ApiError(404, "Not Found")
        with self.lock:
            self.calls[method] += 1
            delay = self.faults.delay
        if method.lower() in SEND_METHODS:
            if delay:  # a slow answer: the message is accepted, the answer comes late
                result = self._send(method.lower(), params, files, arrived)
                time.sleep(delay)
                return result
            return self._send(method.lower(), params, files, arrived)
        return handler(params, files)

    def api_getme(self, params, files) -> dict:
        return self.bot

    def _send(self, method: str, params: dict[str, Any], files: dict[str, dict], arrived: float | None = None) -> dict:
        chat_id = _chat_id(params.get("chat_id"))
        result: dict[str, Any] = {}
        if method == "sendmessage":
            text = str(params.get("text") or "")
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > TEXT_MAX:
                raise ApiError(400, "Bad Request: message is too long")
            result["text"] = text
        else:
            caption = str(params.get("caption") or "")
            if len(caption) > CAPTION_MAX:
                raise ApiError(400, "Bad Request: message caption is too long")
            if caption:
                result["caption"] = caption
        with self.lock:
            if chat_id is None or chat_id in self.missing:
                raise ApiError(400, "Bad Request: chat not found")
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.deactivated:
                raise ApiError(403, "Forbidden: user is deactivated")
            now = arrived or time.monotonic()
            if self.faults.flood:
                self.faults.flood -= 1
                raise self._flood(now, chat_id, self.faults.retry_after)
            # Threads may record out of arrival order: filter rather than pop from the left.
            self.window = deque(t for t in self.window if t > now - 1.0)
            if len(self.window) >= self.rate:
                raise self._flood(now, chat_id, 1)
            last = self.last_to_chat.get(chat_id)
            if last is not None and now - last < self.chat_interval:
                raise self._flood(now, chat_id, max(1, round(self.chat_interval - (now - last) + 0.5)))
            # Accepted from here on: it counts against the limits.
            file_id = ""
            if method == "sendphoto":
                stored = self._file(params, files, "photo", "image/jpeg")
                file_id = stored["file_id"]
                result["photo"] = [{"file_id": file_id, "file_unique_id": stored["unique"], "width": 800,
                                    "height": 600, "file_size": len(stored["data"])}]
            elif method == "senddocument":
                stored = self._file(params, files, "document", "application/octet-stream")
                file_id = stored["file_id"]
                result["document"] = {"file_id": file_id, "file_unique_id": stored["unique"],
                                      "file_name": stored["name"], "mime_type": stored["mime"],
                                      "file_size": len(stored["data"])}
            self.window.append(now)
            self.last_to_chat[chat_id] = now
            self.message_ids[chat_id] += 1
            message_id = self.message_ids[chat_id]
            self.sent.append({"method": method, "chat_id": chat_id, "text": result.get("text", ""),
                              "caption": result.get("caption", ""), "file_id": file_id, "at": now,
                              "message_id": message_id,
                              "reply_markup": params.get("reply_markup")})
        return {"message_id": message_id, "date": int(time.time()), "from": self.bot,
                "chat": {"id": chat_id, "type": "private", "first_name": self.names.get(chat_id, f"User {chat_id}")},
                **result}

    def _flood(self, now: float, chat_id: int, seconds: int) -> "ApiError":
        self.flood_times.append((now, chat_id))
        return _flood(seconds)

    def _file(self, params: dict[str, Any], files: dict[str, dict], field: str, default_mime: str) -> dict:
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
        if value is None:
            value = files.get(field)
        if isinstance(value, dict):  # bytes uploaded in this request
            self.uploads += 1
            digest = hashlib.sha256(value["data"]).hexdigest()
            file_id = f"BQAC{digest[:20]}{secrets.token_hex(6)}"
            stored = {"file_id": file_id, "unique": f"AgAD{digest[:12]}", "data": value["data"],
                      "name": value["filename"] or field, "mime": value["content_type"] or default_mime,
                      "path": f"{field}s/file_{len(self.files)}"}
            self.files[file_id] = stored
            return stored
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def api_getfile(self, params, files) -> dict:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": stored["file_id"], "file_unique_id": stored["unique"], "file_size": len(stored["data"]),
                "file_path": stored["path"]}

    def file_bytes(self, token: str, path: str) -> bytes | None:
        if token != self.token:
            return None
        with self.lock:
            return next((f["data"] for f in self.files.values() if f["path"] == path), None)

    def api_setwebhook(self, params, files) -> bool:
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "")
        if secret and not SECRET_SHAPE.match(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and urlsplit(url).scheme not in {"http", "https"}:
            raise ApiError(400, "Bad Request: bad webhook: unsupported URL protocol")
        with self.lock:
            self.webhook.update(url=url, secret=secret, allowed_updates=params.get("allowed_updates"),
                                last_error_message="", last_error_date=0)
            if _true(params.get("drop_pending_updates")):
                self.updates.clear()
        self._wake_webhook.set()
        return True

    def api_deletewebhook(self, params, files) -> bool:
        with self.lock:
            self.webhook.update(url="", secret="")
            if _true(params.get("drop_pending_updates")):
                self.updates.clear()
        return True

    def api_getwebhookinfo(self, params, files) -> dict:
        with self.lock:
            info = {"url": self.webhook["url"], "has_custom_certificate": False,
                    "pending_update_count": len(self.updates), "max_connections": 40}
            if self.webhook["last_error_message"]:
                info.update(last_error_message=self.webhook["last_error_message"],
                            last_error_date=self.webhook["last_error_date"])
            return info

    def api_getupdates(self, params, files) -> list:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.lock:
            if self.webhook["url"]:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and self.running and (left := deadline - time.monotonic()) > 0:
                self.arrived.wait(timeout=min(left, 0.5))
            return list(self.updates[:limit])


def _flood(seconds: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


def _chat_id(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _post_json(url: str, update: dict, secret: str) -> int:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return 599


JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "media", "caption_entities", "link_preview_options",
               "reply_parameters"}


def parse_params(content_type: str, query: str, body: bytes) -> tuple[dict[str, Any], dict[str, dict]]:
    """Parameters from the query string and a form, multipart or JSON body; uploads apart."""
    params: dict[str, Any] = dict(parse_qsl(query))
    files: dict[str, dict] = {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        params.update(json.loads(body))
    elif kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode()))
    elif kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = {"filename": part.get_filename(), "content_type": part.get_content_type(), "data": data}
            else:
                params[name] = data.decode()
    for name in JSON_FIELDS & set(params):
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                pass
    return params, files


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "TelegramSandbox"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests send thousands of calls
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server.state
        if parts.path.rstrip("/") == "/_sandbox":
            return self._control(parts.query, body)
        if match := re.match(r"^/file/bot([^/]+)/(.+)$", parts.path):
            data = state.file_bytes(match[1], match[2])
            if data is None:
                return self._reply(404, b"Not Found", "text/plain")
            return self._reply(200, data, "application/octet-stream")
        match = re.match(r"^/bot([^/]*)/([A-Za-z]+)$", parts.path)
        if not match:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            params, files = parse_params(self.headers.get("Content-Type", ""), parts.query, body)
            result = state.call(match[1], match[2], params, files, arrived)
        except ApiError as exc:
            with state.lock:
                state.refused[exc.code] += 1
            error: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                error["parameters"] = exc.parameters
            return self._json(exc.code, error)
        except (ValueError, KeyError) as exc:
            return self._json(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
        self._json(200, {"ok": True, "result": result})

    def _control(self, query: str, body: bytes) -> None:
        """GET: a page to act as a Telegram user; POST (JSON or form): act, or switch faults."""
        state = self.server.state
        if self.command == "GET":
            if "json" in query:
                return self._json(200, state.summary())
            return self._reply(200, control_page(state).encode(), "text/html; charset=utf-8")
        params, _files = parse_params(self.headers.get("Content-Type", ""), "", body)
        action = params.get("action", "")
        user = int(params.get("user_id") or 0)
        if action == "text":
            state.send_text(user, str(params.get("text", "")))
        elif action == "start":
            state.start(user, str(params.get("payload", "")))
        elif action == "contact":
            owner = params.get("owner_id")
            state.share_contact(user, str(params.get("phone", "")), int(owner) if owner else None)
        elif action == "block":
            state.block(user)
        elif action == "unblock":
            with state.lock:
                state.blocked.discard(user)
        elif action == "faults":
            with state.lock:
                for name in ("flood", "retry_after"):
                    if name in params:
                        setattr(state.faults, name, int(params[name]))
                if "delay" in params:
                    state.faults.delay = float(params["delay"])
        else:
            return self._json(400, {"error": f"unknown action {action!r}"})
        if "json" in self.headers.get("Content-Type", ""):
            return self._json(200, state.summary())
        self.send_response(303)
        self.send_header("Location", f"/_sandbox/?user_id={user}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, status: int, body: Any) -> None:
        self._reply(status, json.dumps(body).encode(), "application/json")

    def _reply(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def control_page(state: TelegramState) -> str:
    """A bare page for trying the bot offline: act as a Telegram user, see what the bot said."""
    with state.lock:
        recent = state.sent[-30:][::-1]
        info = state.summary()
    rows = "".join(
        f"<tr><td>{s['chat_id']}</td><td>{html.escape(s['method'])}</td>"
        f"<td>{html.escape(s['text'] or s['caption'] or s['file_id'])}</td></tr>" for s in recent
    )
    form = ('<form method="post"><input type="hidden" name="action" value="{a}">'
            '<label>user id <input name="user_id" value="5550001" size="10"></label> {extra} '
            '<button>{label}</button></form>')
    return f"""<!doctype html><meta charset="utf-8"><title>Telegram sandbox</title>
<style>body{{font:15px system-ui;margin:2em;max-width:60em}}form{{margin:.5em 0}}td{{padding:.2em .6em;border-bottom:1px solid #ddd}}</style>
<h1>Telegram sandbox</h1>
<p>Bot @{html.escape(state.bot['username'])}; webhook: {html.escape(info['webhook'] or 'none (polling)')};
pending updates: {info['pending_updates']}; messages sent by the bot: {info['sent']}; uploads: {info['uploads']}.</p>
<h2>Act as a Telegram user</h2>
{form.format(a="start", extra='<label>deep-link payload <input name="payload"></label>', label="Tap Start")}
{form.format(a="contact", extra='<label>phone <input name="phone" value="+393401234567"></label> <label>contact of user id (empty: own) <input name="owner_id" size="10"></label>', label="Share contact")}
{form.format(a="text", extra='<label>text <input name="text" size="40"></label>', label="Send text")}
{form.format(a="block", extra="", label="Block the bot")}
{form.format(a="unblock", extra="", label="Unblock")}
<h2>What the bot sent (newest first)</h2><table>{rows}</table>"""


class TelegramSandbox(ThreadingHTTPServer):
    """The sandbox server. `start()` serves in a thread; `base_url` is what PTB needs."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: TelegramState | None = None):
        super().__init__((host, port), Handler)
        self.state = state or TelegramState()
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def start(self) -> "TelegramSandbox":
        self.threads = [threading.Thread(target=self.serve_forever, name="telegram-sandbox", daemon=True),
                        threading.Thread(target=self.state._webhook_loop, name="telegram-webhook", daemon=True)]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.state.running = False
        self.state._wake_webhook.set()
        with self.state.lock:
            self.state.arrived.notify_all()
        self.shutdown()
        self.server_close()


def start(host: str = "127.0.0.1", port: int = 0, **state: Any) -> TelegramSandbox:
    return TelegramSandbox(host, port, TelegramState(**state)).start()
