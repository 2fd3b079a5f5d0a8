"""The Bot API client: the one Telegram module that speaks to the network.

One event loop per process (a daemon thread) holds one ExtBot per configuration with its
`ChatRateLimiter`, so Telegram's limits hold across chunks, batches and worker threads of
the process; given a shared limiter (sender.ratelimit, passed in by the method), they hold
across every worker process and machine too. Refusals keep Telegram's own words (PTB
strips "Bad Request: " and lower-cases the rest); `Gateway` sends a text or a file to one
chat and says which file id Telegram gave back, whatever kind of attachment it made of
the file.
"""

import asyncio
import concurrent.futures
import json
import math
import threading
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _
from telegram import Message
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest

from sender.exceptions import DeliveryError
from sender.ratelimit import Limit, SharedLimiter

WINDOW_MARGIN = 1.04  # count each limit over a slightly longer time, so network jitter never crosses it
CHAT_MARGIN = 0.05  # seconds added between two messages to one chat, for the same reason
GROUP_RATE, GROUP_PERIOD = 20, 60.0  # messages per minute to one group or channel (Bot FAQ)
CHATS_KEPT = 1024  # per-chat limiter entries kept before the idle ones are evicted
UNREACHABLE = ("chat not found", "user not found", "chat_id is empty")
"""Words of a 400 meaning the chat is gone for good: its link goes inactive."""


class SlidingWindow:
    """At most `n` calls in any `period` seconds, the way Telegram (and the sandbox) count.

    Unlike a leaky bucket paced call by call, a late wake-up (a busy CPU) is caught up
    rather than lost, so the sustained rate stays at the limit; `min_gap` keeps the
    catching up (and the start) from becoming a burst that jitter could push over it."""

    def __init__(self, n: int, period: float, min_gap: float = 0.0):
        self.n, self.period, self.min_gap = n, period, min_gap
        self.times: deque[float] = deque()
        self.lock: asyncio.Lock | None = None

    def idle_since(self, now: float) -> bool:
        """True when no call in the window limits the next one."""
        return not self.times or self.times[-1] <= now - self.period

    async def __aenter__(self) -> None:
        if self.lock is None:
            self.lock = asyncio.Lock()  # FIFO: callers go in the order they came
        loop = asyncio.get_running_loop()
        async with self.lock:
            while True:
                now = loop.time()
                while self.times and self.times[0] <= now - self.period:
                    self.times.popleft()
                wait = self.times[0] + self.period - now if len(self.times) >= self.n else 0.0
                if self.times:
                    wait = max(wait, self.times[-1] + self.min_gap - now)
                if wait <= 0:
                    self.times.append(now)
                    return
                await asyncio.sleep(wait)

    async def __aexit__(self, *exc_info) -> None:
        return None


@dataclass
class ChatSlot:
    """One chat's place in the limiter: calls go one at a time, `last` is the last send."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float = -math.inf
    group: SlidingWindow | None = None  # groups and channels: 20 a minute


class ChatRateLimiter(BaseRateLimiter[int]):
    """Telegram's limits for one bot: `rate` calls a second overall (a sliding window), one
    call per `chat_interval` seconds to any one chat (private, group or channel), and 20 a
    minute to one group or channel. A `RetryAfter` pauses every call for the time Telegram
    asks, then the call is tried again (up to `max_retries` times).

    The chat's spacing is stamped after the overall window let the call through, right
    before it goes out, so a shorter overall wait for the next message can never bring two
    messages to one chat closer than the interval. Idle chats are evicted from the map.

    With `shared` (a backend of sender.ratelimit) every call also takes its place in the
    same three limits counted for all processes under `scope` (the bot), right before it
    goes out; one call of this process asks at a time, on a thread of its own."""

    def __init__(self, rate: float, chat_interval: float, max_retries: int, group_rate: int = GROUP_RATE,
                 group_period: float = GROUP_PERIOD, shared: SharedLimiter | None = None, scope: str = ""):
        n = max(1, math.ceil(rate))
        self.overall = SlidingWindow(n, n / rate * WINDOW_MARGIN, 0.8 / rate)
        self.shared, self.scope = shared, scope
        self.shared_overall = Limit(f"telegram:{scope}:all", n, n / rate * WINDOW_MARGIN, 0.8 / rate)
        self.shared_lock: asyncio.Lock | None = None
        self.shared_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self.chat_interval = chat_interval * WINDOW_MARGIN + CHAT_MARGIN if chat_interval else 0.0
        self.group_rate, self.group_period = group_rate, group_period * WINDOW_MARGIN
        self.max_retries = max_retries
        self.chats: dict[int | str, ChatSlot] = {}
        self.evict_above = CHATS_KEPT
        self.running = asyncio.Event()  # cleared while Telegram asked us to wait
        self.running.set()
        self.resume_at = -math.inf
        self.pauses: set[asyncio.Future] = set()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        retries = rate_limit_args if rate_limit_args is not None else self.max_retries
        chat = chat_key(data.get("chat_id"))
        for attempt in range(retries + 1):
            try:
                return await self._one(chat, callback, args, kwargs)
            except RetryAfter as exc:
                if attempt == retries:  # this call gives up, the others still wait as asked
                    self.pauses.add(task := asyncio.ensure_future(self._pause(retry_after_seconds(exc) + 0.1)))
                    task.add_done_callback(self.pauses.discard)
                    raise
                await self._pause(retry_after_seconds(exc) + 0.1)
        return None

    async def _pause(self, seconds: float) -> None:
        """Hold every call until `seconds` from now (or a later end another pause set)."""
        loop = asyncio.get_running_loop()
        self.resume_at = max(self.resume_at, loop.time() + seconds)
        self.running.clear()
        try:
            while (left := self.resume_at - loop.time()) > 0:
                await asyncio.sleep(left)
        finally:
            self.running.set()

    async def _one(self, chat: int | str | None, callback, args, kwargs):
        if chat is None:  # getMe, setWebhook...: no chat, no limit but a pause
            await self.running.wait()
            return await callback(*args, **kwargs)
        slot = self._slot(chat)
        loop = asyncio.get_running_loop()
        async with slot.lock:
            wait = slot.last + self.chat_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if slot.group is not None:
                await self.running.wait()
                async with slot.group:
                    pass
            while True:
                # Wait out a pause before taking a place in the window, and again if one began
                # meanwhile: places taken before a pause would all be spent at once after it.
                await self.running.wait()
                async with self.overall:
                    pass
                if self.shared is not None:
                    await self._shared_turn(chat, slot.group is not None)
                if self.running.is_set():
                    break
            slot.last = loop.time()
            return await callback(*args, **kwargs)

    async def _shared_turn(self, chat: int | str, grouped: bool) -> None:
        """Take this call's place in the limits shared with every other process. A wait on
        the overall limit keeps this process's other calls behind it (they would wait for the
        same); a wait on one chat or group lets them ask meanwhile."""
        limits = [self.shared_overall]
        if self.chat_interval:
            limits.append(Limit(f"telegram:{self.scope}:chat:{chat}", 1, self.chat_interval))
        if grouped:
            limits.append(Limit(f"telegram:{self.scope}:group:{chat}", self.group_rate, self.group_period))
        if self.shared_lock is None:
            self.shared_lock = asyncio.Lock()
            self.shared_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="telegram-limits")
        loop = asyncio.get_running_loop()
        while True:
            async with self.shared_lock:
                while True:
                    wait, which = await loop.run_in_executor(self.shared_thread, self.shared.acquire, limits)
                    if wait <= 0:
                        return
                    if which != 0:
                        break
                    await asyncio.sleep(wait)
            await asyncio.sleep(wait)

    def _slot(self, chat: int | str) -> ChatSlot:
        slot = self.chats.get(chat)
        if slot is None:
            if len(self.chats) >= self.evict_above:
                self._evict()
            grouped = self.group_rate and (isinstance(chat, str) or chat < 0)
            slot = self.chats[chat] = ChatSlot(
                group=SlidingWindow(self.group_rate, self.group_period) if grouped else None)
        return slot

    def _evict(self) -> None:
        """Forget chats that limit nothing any more (nobody waiting, last call long ago)."""
        now = asyncio.get_running_loop().time()
        for chat, slot in list(self.chats.items()):
            if (not slot.lock.locked() and slot.last <= now - self.chat_interval
                    and (slot.group is None or slot.group.idle_since(now))):
                del self.chats[chat]
        self.evict_above = max(CHATS_KEPT, 2 * len(self.chats))


def chat_key(chat_id: Any) -> int | str | None:
    """The limiter's key for a chat id: an integer, or an @channel name."""
    if chat_id is None or chat_id == "":
        return None
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds (PTB 22 warns that it will become a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class WordsBadRequest(BadRequest):
    """A 400 whose `message` is Telegram's description as written ("Bad Request: chat not found")."""

    def __init__(self, description: str):
        super().__init__(description)
        self.message = description


class TelegramRequest(HTTPXRequest):
    """PTB's HTTPX transport, keeping a 400's description as Telegram wrote it: PTB would
    strip "Bad Request: " and lower-case the rest ("PHOTO_INVALID_DIMENSIONS" becomes
    "Photo_invalid_dimensions"). Migrations and flood waits go on to PTB untouched."""

    async def do_request(self, *args, **kwargs) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == 400:
            try:
                answer = json.loads(payload)
            except ValueError:
                return code, payload
            if not isinstance(answer, dict):
                return code, payload
            parameters = answer.get("parameters") or {}
            description = answer.get("description")
            if description and not parameters.get("migrate_to_chat_id") and not parameters.get("retry_after"):
                raise WordsBadRequest(str(description))
        return code, payload


def make_bot(options: dict[str, Any], rate_limited: bool = True, shared: SharedLimiter | None = None) -> ExtBot:
    """An ExtBot for this configuration, for one event loop; its limits shared through `shared`."""
    timeout = float(options["timeout"])
    request = TelegramRequest(connection_pool_size=int(options["concurrency"]) + 4, read_timeout=timeout,
                              write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout,
                              media_write_timeout=timeout)
    limiter = rate_limiter(options, shared) if rate_limited else None
    return ExtBot(options["token"], base_url=options["base_url"], base_file_url=options["base_file_url"],
                  request=request, rate_limiter=limiter)


def rate_limiter(options: dict[str, Any], shared: SharedLimiter | None = None) -> ChatRateLimiter:
    return ChatRateLimiter(float(options["rate"]), float(options["chat_interval"]), int(options["max_retries"]),
                           shared=shared, scope=bot_scope(options["token"]))


def bot_scope(token: str) -> str:
    """The bot's id (the token's number), naming its shared limits: never the secret part."""
    return str(token).partition(":")[0]


class SendingLoop:
    """The process's sending event loop, in a daemon thread, and the bots living on it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bots: dict[tuple, ExtBot] = {}  # touched only on the loop

    def run(self, coroutine):
        """Run `coroutine` on the loop and wait for its result (from any thread)."""
        with self.lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="telegram-sending", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


LOOP = SendingLoop()
BOT_KEYS = ("token", "base_url", "base_file_url", "rate", "chat_interval", "max_retries", "concurrency", "timeout")


async def running_bot(options: dict[str, Any], shared: SharedLimiter | None = None) -> ExtBot:
    """This configuration's initialized bot on the sending loop (made on first use)."""
    key = (*(str(options[k]) for k in BOT_KEYS), id(shared))
    bot = LOOP.bots.get(key)
    if bot is None:
        bot = make_bot(options, shared=shared)
        try:
            await bot.initialize()
        except InvalidToken as exc:
            # Not exc.message: PTB puts the token itself in it.
            raise DeliveryError(_("Telegram refused the bot token (check SENDER_TELEGRAM_TOKEN)."),
                                permanent=True, scope=DeliveryError.METHOD) from exc
        except NetworkError as exc:
            raise DeliveryError(_("Telegram cannot be reached: %(error)s") % {"error": exc.message}) from exc
        LOOP.bots[key] = bot
    return bot


def unreachable(exc: BadRequest) -> bool:
    """A 400 saying the chat does not exist (any more)."""
    return any(words in exc.message.lower() for words in UNREACHABLE)


def file_id_of(message: Message, kind: str) -> str | None:
    """The file id of what came back: Telegram may have made a document an audio, a video
    or an animation, and a photo comes as a list of sizes (the last is the largest)."""
    attachment = message.document if kind == "document" and message.document else message.effective_attachment
    if isinstance(attachment, Sequence) and not isinstance(attachment, str):
        attachment = attachment[-1] if attachment else None
    return getattr(attachment, "file_id", None)


class Gateway:
    """Sends to one chat at a time through this configuration's bot."""

    def __init__(self, bot: ExtBot):
        self.bot = bot

    async def text(self, chat_id: str, text: str) -> Message:
        return await self.bot.send_message(chat_id, text)

    async def file(self, chat_id: str, kind: str, content: bytes | str, filename: str | None = None
                   ) -> tuple[Message, str | None]:
        """Send `content` (bytes to upload, or a file id) as a photo or a document; the answer
        and the file id to send it by next time. A document goes as a file: without
        disable_content_type_detection Telegram would turn an MP3 into an audio, an MP4 into
        a video."""
        if kind == "photo":
            message = await self.bot.send_photo(chat_id, content, filename=filename)
        else:
            message = await self.bot.send_document(chat_id, content, filename=filename,
                                                   disable_content_type_detection=True)
        return message, file_id_of(message, kind)
