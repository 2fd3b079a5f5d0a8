"""The sandbox's HTTP side: Bot API routes, the file route, and `/_sandbox/` (a page to act
as a Telegram user, and a JSON control endpoint for other processes)."""

import html
import json
import re
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from sender.dev.sandbox.telegram.errors import ApiError
from sender.dev.sandbox.telegram.state import TelegramState

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
            return self._reply(200, control_page(state, parse_qs(query)).encode(), "text/html; charset=utf-8")
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
                for name in ("flood", "retry_after", "flood_after"):
                    if name in params:
                        setattr(state.faults, name, int(params[name]))
                if "delay" in params:
                    state.faults.delay = float(params["delay"])
        else:
            return self._json(400, {"error": f"unknown action {action!r}"})
        if "json" in self.headers.get("Content-Type", ""):
            return self._json(200, state.summary())
        self.send_response(303)
        # The next page keeps what was typed: the same user, the same phone number.
        kept = {"user_id": user, "phone": params.get("phone", "")} if params.get("phone") else {"user_id": user}
        self.send_header("Location", f"/_sandbox/?{urlencode(kept)}")
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


def control_page(state: TelegramState, query: dict[str, list[str]] | None = None) -> str:
    """A bare page for trying the bot offline: act as a Telegram user, see what the bot said.
    The user id and phone of the last submit (in `query`) fill the forms again."""
    query = query or {}
    user_id = html.escape(query.get("user_id", ["5550001"])[0], quote=True)
    phone = html.escape(query.get("phone", ["+393401234567"])[0], quote=True)
    with state.lock:
        recent = state.sent[-30:][::-1]
        info = state.summary()
    rows = "".join(
        f"<tr><td>{s['chat_id']}</td><td>{html.escape(s['method'])}</td>"
        f"<td>{html.escape(s['text'] or s['caption'] or s['file_id'])}</td></tr>" for s in recent
    )
    # Every form carries the phone along, so whichever is submitted, the next page keeps it.
    form = ('<form method="post"><input type="hidden" name="action" value="{a}">{keep}'
            f'<label>user id <input name="user_id" value="{user_id}" size="10"></label> {{extra}} '
            '<button>{label}</button></form>')
    keep = f'<input type="hidden" name="phone" value="{phone}">'
    return f"""<!doctype html><meta charset="utf-8"><title>Telegram sandbox</title>
<style>body{{font:15px system-ui;margin:2em;max-width:60em}}form{{margin:.5em 0}}td{{padding:.2em .6em;border-bottom:1px solid #ddd}}</style>
<h1>Telegram sandbox</h1>
<p>Bot @{html.escape(state.bot['username'])}; webhook: {html.escape(info['webhook'] or 'none (polling)')};
pending updates: {info['pending_updates']}; messages sent by the bot: {info['sent']}; uploads: {info['uploads']}.</p>
<h2>Act as a Telegram user</h2>
{form.format(keep=keep, a="start", extra='<label>deep-link payload <input name="payload"></label>', label="Tap Start")}
{form.format(keep="", a="contact", extra=f'<label>phone <input name="phone" value="{phone}"></label> <label>contact of user id (empty: own) <input name="owner_id" size="10"></label>', label="Share contact")}
{form.format(keep=keep, a="text", extra='<label>text <input name="text" size="40"></label>', label="Send text")}
{form.format(keep=keep, a="block", extra="", label="Block the bot")}
{form.format(keep=keep, a="unblock", extra="", label="Unblock")}
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

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-request (a worker killed while waiting for its answer)
        is Telegram's everyday life, not a fault of the sandbox: no traceback for it."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def start(self) -> "TelegramSandbox":
        self.threads = [threading.Thread(target=self.serve_forever, name="telegram-sandbox", daemon=True),
                        threading.Thread(target=self.state.sender.run, name="telegram-webhook", daemon=True)]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.state.running = False
        self.state.sender.wake.set()
        with self.state.lock:
            self.state.arrived.notify_all()
        self.shutdown()
        self.server_close()


def start(host: str = "127.0.0.1", port: int = 0, **state: Any) -> TelegramSandbox:
    return TelegramSandbox(host, port, TelegramState(**state)).start()
