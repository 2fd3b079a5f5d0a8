"""Loopback fakes of Twilio's and Vonage's SMS APIs, as their public documentation describes
them, refusing what they refuse; each counts the numbers it was asked to reach.

Twilio: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic AccountSid:AuthToken,
form To (E.164) / From / Body; 201 {"sid": "SM…", "status": "queued"}, or 4xx
{"code", "message", "status"} (20003 authentication, 21211 invalid To, 21602 no Body).
Vonage: POST /sms/json, HTTP Basic api_key:api_secret (or api_key/api_secret fields), form
from / to (digits only) / text; always 200 {"message-count", "messages": [{"status", …}]}
with status "0" on success, "2" missing parameter, "3" invalid parameter, "4" bad
credentials, "9" quota exceeded.
"""

import base64
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Provider:
    """One fake on 127.0.0.1 (free port). `hang` seconds: wait that long before answering
    (the request counts as received: it may have gone out); `quota`: refuse for no credit."""

    def __init__(self, kind: str, user: str = "AC123", secret: str = "s3cret"):
        self.kind, self.user, self.secret = kind, user, secret
        self.received: Counter = Counter()  # number → SMS accepted or maybe sent
        self.texts: list[str] = []
        self.hang = 0.0
        self.quota = False
        self.sequence = 0
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                code, body = provider.handle(self.path, self.headers.get("Authorization", ""), form)
                if provider.hang:
                    time.sleep(provider.hang)
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _basic(self, header: str) -> tuple[str, str] | None:
        if not header.startswith("Basic "):
            return None
        user, _sep, secret = base64.b64decode(header[6:]).decode().partition(":")
        return user, secret

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self.sequence += 1
            return f"{prefix}{self.sequence:032d}"

    def handle(self, path: str, auth: str, form: dict) -> tuple[int, dict]:
        return self.twilio(path, auth, form) if self.kind == "twilio" else self.vonage(path, auth, form)

    def twilio(self, path: str, auth: str, form: dict) -> tuple[int, dict]:
        match = re.fullmatch(r"/2010-04-01/Accounts/(AC\w+)/Messages\.json", path)
        if match is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        if self._basic(auth) != (self.user, self.secret) or match.group(1) != self.user:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if not form.get("Body"):
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}
        if not form.get("From"):
            return 400, {"code": 21603, "message": "A 'From' phone number is required.", "status": 400}
        if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")):
            return 400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                         "status": 400}
        if self.quota:
            return 429, {"code": 20429, "message": "Too Many Requests", "status": 429}
        self.received[form["To"]] += 1
        self.texts.append(form["Body"])
        return 201, {"sid": self.next_id("SM"), "status": "queued", "to": form["To"], "body": form["Body"]}

    def vonage(self, path: str, auth: str, form: dict) -> tuple[int, dict]:
        if path != "/sms/json":
            return 404, {}
        credentials = self._basic(auth) or (form.get("api_key"), form.get("api_secret"))
        missing = [k for k in ("from", "to", "text") if not form.get(k)]
        if credentials == (None, None) or missing:
            return 200, {"message-count": "1", "messages": [{"status": "2", "error-text": f"Missing {missing}"}]}
        if credentials != (self.user, self.secret):
            return 200, {"message-count": "1", "messages": [{"status": "4", "error-text": "Bad Credentials"}]}
        if not re.fullmatch(r"[1-9]\d{6,14}", form["to"]):
            return 200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to param"}]}
        if self.quota:
            return 200, {"message-count": "1", "messages": [{"status": "9", "error-text": "Quota Exceeded"}]}
        self.received["+" + form["to"]] += 1
        self.texts.append(form["text"])
        return 200, {"message-count": "1", "messages": [{"to": form["to"], "message-id": self.next_id("0A"),
                                                         "status": "0", "remaining-balance": "10.0",
                                                         "message-price": "0.0333", "network": "22201"}]}
