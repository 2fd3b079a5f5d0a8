"""Webhook delivery as Telegram does it: one queue per chat (a chat's next update waits
until the one before it was accepted), up to `max_connections` POSTs in flight at once,
a refused or failed POST tried again after an exponentially growing pause, and dropped
after `attempts` tries. The pause and the number of tries Telegram uses are not published:
they are settings here (`webhook_backoff`, `webhook_attempts`)."""

import json
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sender.dev.sandbox.telegram.state import TelegramState


def chat_of(update: dict[str, Any]) -> Any:
    """The chat an update belongs to (its queue), or None for chat-less updates."""
    for key, value in update.items():
        if key != "update_id" and isinstance(value, dict):
            inner = value.get("message") if isinstance(value.get("message"), dict) else value
            chat = inner.get("chat")
            if isinstance(chat, dict):
                return chat.get("id")
            sender = value.get("from")
            return ("user", sender.get("id")) if isinstance(sender, dict) else None
    return None


class WebhookSender:
    """POSTs the state's pending updates to its webhook, from a thread of its own."""

    def __init__(self, state: "TelegramState", backoff: float, attempts: int):
        self.state = state
        self.backoff, self.attempts = backoff, attempts
        self.wake = threading.Event()
        self.in_flight: set[Any] = set()  # chats with a POST under way
        self.tries: dict[int, int] = {}  # update_id -> failed POSTs so far
        self.not_before: dict[int, float] = {}  # update_id -> when it may be tried again

    def run(self) -> None:
        state = self.state
        while state.running:
            self.wake.wait(timeout=0.05 if self.not_before or self.in_flight else 1.0)
            self.wake.clear()
            if not state.running:
                return
            if state.auto_deliver:
                for update, chat, url, secret in self._ready():
                    threading.Thread(target=self._post, args=(update, chat, url, secret), daemon=True,
                                     name="telegram-webhook-post").start()

    def _ready(self) -> list[tuple[dict, Any, str, str]]:
        """The first pending update of each chat not busy nor backing off, within max_connections."""
        state, now, ready, seen = self.state, time.monotonic(), [], set()
        with state.lock:
            url, secret = state.webhook["url"], state.webhook["secret"]
            if not url:
                return []
            for update in state.updates:
                chat = chat_of(update)
                if chat in seen:
                    continue
                seen.add(chat)
                if chat in self.in_flight or self.not_before.get(update["update_id"], 0) > now:
                    continue
                if len(self.in_flight) >= state.webhook["max_connections"]:
                    break
                self.in_flight.add(chat)
                ready.append((update, chat, url, secret))
        return ready

    def _post(self, update: dict, chat: Any, url: str, secret: str) -> None:
        status = post_json(url, update, secret)
        state = self.state
        with state.lock:
            self.in_flight.discard(chat)
            state.deliveries.append((update["update_id"], status))
            update_id = update["update_id"]
            if 200 <= status < 300:
                self._forget(update)
            else:
                state.note_webhook_error(status)
                self.tries[update_id] = tries = self.tries.get(update_id, 0) + 1
                if tries >= self.attempts:
                    state.dropped.append(update_id)
                    self._forget(update)
                else:
                    self.not_before[update_id] = time.monotonic() + self.backoff * 2 ** (tries - 1)
        self.wake.set()

    def _forget(self, update: dict) -> None:
        self.state.updates = [u for u in self.state.updates if u is not update]
        self.tries.pop(update["update_id"], None)
        self.not_before.pop(update["update_id"], None)

    def deliver_pending(self) -> list[int]:
        """POST every pending update now, one after the other, stopping at the first refusal
        (kept to try again); returns the HTTP statuses. For tests that drive delivery."""
        state, statuses = self.state, []
        while True:
            with state.lock:
                if not state.webhook["url"] or not state.updates:
                    return statuses
                update, url, secret = state.updates[0], state.webhook["url"], state.webhook["secret"]
            status = post_json(url, update, secret)
            with state.lock:
                state.deliveries.append((update["update_id"], status))
                statuses.append(status)
                if 200 <= status < 300:
                    self._forget(update)
                else:
                    state.note_webhook_error(status)
                    return statuses


def post_json(url: str, update: dict, secret: str) -> int:
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
