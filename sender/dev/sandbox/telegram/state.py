"""Everything the fake Telegram knows, and its answer to each API call."""

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from sender.dev.sandbox.telegram import media
from sender.dev.sandbox.telegram.errors import ApiError, flood
from sender.dev.sandbox.telegram.webhook import WebhookSender

DEFAULT_TOKEN = "123456789:SANDBOX-sender-bot-token"
SEND_METHODS = {"sendmessage", "sendphoto", "senddocument"}
TEXT_MAX, CAPTION_MAX = 4096, 1024
TOKEN_CHARS = set("0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
SECRET_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
SECOND_POLLER = ("Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
                 "running")


@dataclass
class Faults:
    """Switchable misbehaviour: the next `flood` send calls answer 429 with `retry_after`
    (or only the calls after the first `flood_after` accepted ones); every send call is
    answered `delay` seconds late (a slow server)."""

    flood: int = 0
    retry_after: int = 1
    delay: float = 0.0
    flood_after: int = 0


class TelegramState:
    """Everything the fake Telegram knows. Thread-safe behind one lock."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "sender_sandbox_bot", rate: float = 30,
                 chat_interval: float = 1.0, group_rate: int = 20, group_period: float = 60.0,
                 webhook_backoff: float = 1.0, webhook_attempts: int = 8):
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        self.token = token
        self.bot = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Sender sandbox",
                    "username": username, "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        self.rate, self.chat_interval = rate, chat_interval
        self.group_rate, self.group_period = group_rate, group_period
        self.faults = Faults()
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.missing: set[int] = set()
        self.never_started: set[int] = set()  # users who never pressed Start
        self.groups: dict[int, dict[str, Any]] = {}  # chat id -> {id, type, title[, username]}
        self.migrated: dict[int, int] = {}  # old group id -> its supergroup's id
        self.names: dict[int, str] = {}  # user id -> first name, for updates and the page
        self.sent: list[dict[str, Any]] = []  # every accepted send: method, chat_id, text, file_id, at
        self.calls: Counter[str] = Counter()  # method -> calls, refused ones included
        self.refused: Counter[int] = Counter()  # error code -> how many answers
        self.flood_times: list[tuple[float, int]] = []  # (time.monotonic, chat id) of each 429
        self.files = media.Files()
        self.window: deque[float] = deque()  # accept times of send calls in the last second
        self.last_to_chat: dict[int, float] = {}
        self.group_times: dict[int, deque[float]] = {}  # accept times per group, in the last group_period
        self.message_ids: Counter[int] = Counter()
        self.updates: list[dict[str, Any]] = []  # pending, oldest first
        self.next_update_id = 1000
        self.polls = 0  # getUpdates calls so far: a newer one ends an older one still waiting
        self.webhook: dict[str, Any] = {"url": "", "secret": "", "allowed_updates": None, "max_connections": 40,
                                        "last_error_message": "", "last_error_date": 0, "set_at": -1e9}
        self.deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status) of webhook POSTs
        self.dropped: list[int] = []  # update ids given up after every webhook try failed
        self.sender = WebhookSender(self, webhook_backoff, webhook_attempts)
        self.auto_deliver = True  # tests switch it off and call deliver_pending() themselves
        self.running = True

    @property
    def uploads(self) -> int:
        return self.files.uploads

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

    def add_group(self, chat_id: int, title: str = "A group", kind: str = "group", username: str = "") -> dict:
        """A group, supergroup or channel (negative id) the bot is a member of; a channel or
        public group with a `username` can be addressed as "@username"."""
        chat = {"id": int(chat_id), "type": kind, "title": title, **({"username": username} if username else {})}
        with self.lock:
            self.groups[int(chat_id)] = chat
        return chat

    def migrate_group(self, old_id: int, new_id: int) -> None:
        """Telegram upgrades a group to a supergroup: the old id answers 400 with the new one."""
        with self.lock:
            old = self.groups.pop(int(old_id), {"title": "A group"})
            self.migrated[int(old_id)] = int(new_id)
        self.add_group(new_id, old["title"], "supergroup")

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update holding `payload` under `kind` ("message", "my_chat_member"...)."""
        with self.lock:
            self.next_update_id += 1
            update = {"update_id": self.next_update_id, kind: payload}
            self.updates.append(update)
            self.arrived.notify_all()
        self.sender.wake.set()
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
        with self.lock:
            self.never_started.discard(int(user_id))
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
        return self.sender.deliver_pending()

    def note_webhook_error(self, status: int) -> None:
        self.webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
        self.webhook["last_error_date"] = int(time.time())

    # -- the API ---------------------------------------------------------------------------

    def call(self, token: str, method: str, params: dict[str, Any], files: dict[str, dict],
             arrived: float | None = None) -> Any:
        """Answer one API call; limits count from `arrived`, when the request came in."""
        head, colon, secret = token.partition(":")
        if not (head.isdigit() and colon and secret and set(token) <= TOKEN_CHARS):
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
            result = self._send(method.lower(), params, files, arrived)
            if delay:  # a slow answer: the message is accepted, the answer comes late
                time.sleep(delay)
            return result
        return handler(params, files)

    def api_getme(self, params, files) -> dict:
        return self.bot

    def _chat(self, value: Any) -> dict[str, Any]:
        """The chat a send names: a user id, a group's id, or a public chat's @username."""
        text = str(value if value is not None else "").strip()
        if text.startswith("@"):
            found = next((c for c in self.groups.values() if c.get("username", "").lower() == text[1:].lower()), None)
            if found is None:
                raise ApiError(400, "Bad Request: chat not found")
            return found
        try:
            chat_id = int(text)
        except ValueError:
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self.migrated[chat_id]})
        if chat_id < 0:
            if chat_id not in self.groups:
                raise ApiError(400, "Bad Request: chat not found")
            return self.groups[chat_id]
        if chat_id == 0 or chat_id in self.missing:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        if chat_id in self.never_started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return {"id": chat_id, "type": "private", "first_name": self.names.get(chat_id, f"User {chat_id}")}

    def _send(self, method: str, params: dict[str, Any], files: dict[str, dict], arrived: float | None = None) -> dict:
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
            chat = self._chat(params.get("chat_id"))
            chat_id = chat["id"]
            now = arrived or time.monotonic()
            self._check_limits(now, chat_id)
            # Accepted from here on: it counts against the limits.
            file_id = ""
            if method == "sendphoto":
                stored = self.files.take(params, files, "photo", "image/jpeg")
                media.check_photo(stored)
                file_id = stored["file_id"]
                result["photo"] = media.photo_sizes(stored)
            elif method == "senddocument":
                stored = self.files.take(params, files, "document", "application/octet-stream")
                file_id = stored["file_id"]
                result.update(media.document_fields(stored, detect=not _true(params.get("disable_content_type_detection"))))
            self.window.append(now)
            self.last_to_chat[chat_id] = now
            if chat_id < 0:
                self.group_times.setdefault(chat_id, deque(maxlen=max(1, self.group_rate))).append(now)
            self.message_ids[chat_id] += 1
            message_id = self.message_ids[chat_id]
            self.sent.append({"method": method, "chat_id": chat_id, "text": result.get("text", ""),
                              "caption": result.get("caption", ""), "file_id": file_id, "at": now,
                              "message_id": message_id, "reply_markup": params.get("reply_markup"),
                              "as": next((k for k in ("audio", "video", "animation", "document", "photo")
                                          if k in result), "text")})
        return {"message_id": message_id, "date": int(time.time()), "from": self.bot, "chat": chat, **result}

    def _check_limits(self, now: float, chat_id: int) -> None:
        """429 above `rate` sends a second overall, closer than `chat_interval` to one chat,
        or above `group_rate` a `group_period` to one group or channel."""
        if self.faults.flood and len(self.sent) >= self.faults.flood_after:
            self.faults.flood -= 1
            raise self._flood(now, chat_id, self.faults.retry_after)
        # Threads may record out of arrival order: filter rather than pop from the left.
        self.window = deque(t for t in self.window if t > now - 1.0)
        if len(self.window) >= self.rate:
            raise self._flood(now, chat_id, 1)
        last = self.last_to_chat.get(chat_id)
        if last is not None and now - last < self.chat_interval:
            raise self._flood(now, chat_id, max(1, round(self.chat_interval - (now - last) + 0.5)))
        if chat_id < 0 and self.group_rate:
            recent = sorted(t for t in self.group_times.get(chat_id, ()) if t > now - self.group_period)
            if len(recent) >= self.group_rate:
                raise self._flood(now, chat_id, max(1, round(recent[-self.group_rate] + self.group_period - now + 0.5)))

    def _flood(self, now: float, chat_id: int, seconds: int) -> ApiError:
        self.flood_times.append((now, chat_id))
        return flood(seconds)

    def api_getfile(self, params, files) -> dict:
        with self.lock:
            stored = self.files.by_id.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": stored["file_id"], "file_unique_id": stored["unique"], "file_size": len(stored["data"]),
                "file_path": stored["path"]}

    def file_bytes(self, token: str, path: str) -> bytes | None:
        if token != self.token:
            return None
        with self.lock:
            return self.files.bytes_at(path)

    def api_setwebhook(self, params, files) -> bool:
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "")
        if len(secret) > 256:
            raise ApiError(400, "Bad Request: secret token is too long")
        if secret and not set(secret) <= SECRET_CHARS:
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and urlsplit(url).scheme not in {"http", "https"}:
            raise ApiError(400, "Bad Request: bad webhook: unsupported URL protocol")
        connections = int(params.get("max_connections") or 40)
        with self.lock:
            now = time.monotonic()
            if now - self.webhook["set_at"] < 1.0:  # at most once a second
                raise flood(1)
            self.webhook.update(url=url, secret=secret, allowed_updates=params.get("allowed_updates"),
                                max_connections=min(max(connections, 1), 100), last_error_message="",
                                last_error_date=0, set_at=now)
            if _true(params.get("drop_pending_updates")):
                self.updates.clear()
        self.sender.wake.set()
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
                    "pending_update_count": len(self.updates), "max_connections": self.webhook["max_connections"]}
            if self.webhook["last_error_message"]:
                info.update(last_error_message=self.webhook["last_error_message"],
                            last_error_date=self.webhook["last_error_date"])
            return info

    def api_getupdates(self, params, files) -> list:
        """409 while a webhook is set; a newer getUpdates ends one still waiting with 409."""
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.lock:
            if self.webhook["url"]:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            self.polls += 1
            mine = self.polls
            self.arrived.notify_all()
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and self.running and (left := deadline - time.monotonic()) > 0:
                self.arrived.wait(timeout=min(left, 0.5))
                if self.polls != mine:
                    raise ApiError(409, SECOND_POLLER)
            return list(self.updates[:limit])


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
