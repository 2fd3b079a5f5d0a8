"""Telegram: text and attachments to linked chats through python-telegram-bot, at the Bot
API's limits.

Sending runs on one event loop per process (a daemon thread), where one ExtBot per
configuration lives with its `ChatRateLimiter` (PTB's AIORateLimiter, paced evenly at
`rate` messages per second overall, plus one message per `chat_interval` per private
chat); so the limits hold across chunks, batches and worker threads of the process, and
many chats are sent to at once. Each attachment is uploaded once and
re-sent by `file_id` (kept in TelegramFile, so later batches and broadcasts reuse it).
A `RetryAfter` pauses every request for the time Telegram asks and tries again; a chat
that blocked the bot or does not exist fails with Telegram's words and its link goes
inactive, so it is not tried again.
"""

import asyncio
import contextlib
import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from django.core import checks
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from telegram import Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from sender.channels.base import RETRY, BaseMethod, Draft, Outcome
from sender.channels.telegram import links
from sender.channels.telegram.models import TelegramFile
from sender.exceptions import DeliveryError, InvalidAddress
from sender.models import MessageAttachment, MessageRecipient, MessageSent

Status = MessageRecipient.Status
TEXT_MAX = 4096
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
WINDOW_MARGIN = 1.04  # count each limit over a slightly longer time, so network jitter never crosses it
CHAT_MARGIN = 0.05  # seconds added between two messages to one chat, for the same reason
UNREACHABLE = ("chat not found", "user not found", "chat_id is empty")
DEFAULTS: dict[str, Any] = {
    "token": "", "base_url": "https://api.telegram.org/bot", "base_file_url": "https://api.telegram.org/file/bot",
    "rate": 30, "chat_interval": 1.0, "max_retries": 5, "concurrency": 32, "long_text": "refuse",
    "timeout": 20.0, "webhook_secret": "", "username": "",
}


class SlidingWindow:
    """At most `n` calls in any `period` seconds, the way Telegram (and the sandbox) count.

    Unlike a leaky bucket paced call by call, a late wake-up (a busy CPU) is caught up
    rather than lost, so the sustained rate stays at the limit; `min_gap` keeps the
    catching up (and the start) from becoming a burst that jitter could push over it."""

    def __init__(self, n: int, period: float, min_gap: float):
        self.n, self.period, self.min_gap = n, period, min_gap
        self.times: deque[float] = deque()
        self.lock: asyncio.Lock | None = None

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


class ChatRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (group limits, RetryAfter pausing every request, retries), with
    its overall limit counted over a sliding window, plus the per-private-chat limit PTB
    lacks: one call per `chat_interval` seconds to the same chat."""

    __slots__ = ("_chat_interval", "_chat_limiters")

    def __init__(self, rate: float, chat_interval: float, max_retries: int):
        super().__init__(max_retries=max_retries)
        n = max(1, math.ceil(rate))
        self._base_limiter = SlidingWindow(n, n / rate * WINDOW_MARGIN, 0.8 / rate)
        self._chat_interval = chat_interval * WINDOW_MARGIN + CHAT_MARGIN if chat_interval else 0
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    async def _run_request(self, chat, group, allow_paid_broadcast, callback, args, kwargs):
        # Wait out a RetryAfter pause before taking a place in the window, not after: places
        # taken before the pause would all be spent at once when it ends, as a burst.
        await self._retry_after_event.wait()
        return await super()._run_request(chat, group, allow_paid_broadcast, callback, args, kwargs)

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        chat_id = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        if isinstance(chat_id, int) and chat_id > 0 and self._chat_interval:
            limiter = self._chat_limiters.get(chat_id)
            if limiter is None:
                limiter = self._chat_limiters[chat_id] = AsyncLimiter(1, self._chat_interval)
            await limiter.acquire()
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


@dataclass(frozen=True)
class Item:
    """One Telegram message of a broadcast: a text part, or an attachment."""

    kind: str  # "text", "photo" or "document"
    text: str = ""
    attachment: MessageAttachment | None = None


class TelegramMethod(BaseMethod):
    kind = "telegram"
    label = gettext_lazy("Telegram")
    address_field = "telegram"
    max_length = TEXT_MAX

    def __init__(self, alias: str, params: dict[str, Any]):
        super().__init__(alias, params)
        self.options = {**DEFAULTS, **self.options}
        if self.options["long_text"] == "split":
            self.max_length = None

    # -- addresses and text ------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """A chat id is an integer (negative for groups), or a @channel name."""
        address = address.strip()
        if address.startswith("@") and len(address) > 1:
            return address
        try:
            return str(int(address))
        except ValueError:
            raise InvalidAddress(_("“%(address)s” is not a Telegram chat id.") % {"address": address}) from None

    def parts(self, body: str) -> list[str]:
        """The text as Telegram messages: one, or split at paragraph, line or word ends."""
        return split_text(body, TEXT_MAX) if self.options["long_text"] == "split" else [body]

    def presend(self, draft: Draft) -> list[str]:
        problems = super().presend(draft)
        for attachment in draft.attachments:
            if attachment.size > DOCUMENT_MAX_BYTES:
                problems.append(_("Telegram bots cannot send “%(name)s”: files are limited to 50 MB.")
                                % {"name": attachment.name})
        return problems

    def warnings(self, draft: Draft) -> list[str]:
        n = len(self.parts(draft.body))
        if n > 1:
            return [ngettext("The text is longer than %(max)d characters: Telegram gets it as %(n)d message.",
                             "The text is longer than %(max)d characters: Telegram gets it as %(n)d messages.", n)
                    % {"max": TEXT_MAX, "n": n}]
        return []

    def items(self, body: str, attachments: Sequence[MessageAttachment]) -> list[Item]:
        texts = [Item("text", part) for part in self.parts(body) if part.strip()]
        files = [Item("photo" if a.content_type in PHOTO_TYPES and a.size <= PHOTO_MAX_BYTES else "document",
                      attachment=a) for a in attachments]
        return texts + files

    # -- the bot -----------------------------------------------------------------------------

    def bot(self, rate_limited: bool = True) -> ExtBot:
        """An ExtBot for this configuration, for one event loop."""
        o = self.options
        timeout = float(o["timeout"])
        request = HTTPXRequest(connection_pool_size=int(o["concurrency"]) + 4, read_timeout=timeout,
                               write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout,
                               media_write_timeout=timeout)
        limiter = (ChatRateLimiter(float(o["rate"]), float(o["chat_interval"]), int(o["max_retries"]))
                   if rate_limited else None)
        return ExtBot(o["token"], base_url=o["base_url"], base_file_url=o["base_file_url"], request=request,
                      rate_limiter=limiter)

    async def running_bot(self) -> ExtBot:
        """This configuration's initialized bot on the sending loop (made on first use)."""
        o = self.options
        key = tuple(str(o[k]) for k in ("token", "base_url", "base_file_url", "rate", "chat_interval",
                                        "max_retries", "concurrency", "timeout"))
        bot = LOOP.bots.get(key)
        if bot is None:
            bot = self.bot()
            try:
                await bot.initialize()
            except InvalidToken as exc:
                # Not exc.message: PTB puts the token itself in it.
                raise DeliveryError(_("Telegram refused the bot token (check SENDER_TELEGRAM_TOKEN)."),
                                    permanent=True) from exc
            except NetworkError as exc:
                raise DeliveryError(_("Telegram cannot be reached: %(error)s") % {"error": exc.message}) from exc
            LOOP.bots[key] = bot
        return bot

    @property
    def bot_id(self) -> int:
        """The numeric part of the token: file ids belong to one bot."""
        head = str(self.options["token"]).partition(":")[0]
        return int(head) if head.isdigit() else 0

    # -- delivery ----------------------------------------------------------------------------

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        broadcast = message.broadcast
        items = self.items(broadcast.body, list(broadcast.attachments.order_by("pk")))
        bot_id = self.bot_id
        shas = [i.attachment.sha256 for i in items if i.attachment]
        known = {(kind, sha): file_id for kind, sha, file_id in TelegramFile.objects.filter(
            bot_id=bot_id, sha256__in=shas).values_list("kind", "sha256", "file_id")} if shas else {}
        run = Delivery(self, items, known)
        outcomes = LOOP.run(run.all(rows))
        if run.uploaded:
            TelegramFile.objects.bulk_create(
                [TelegramFile(bot_id=bot_id, sha256=sha, kind=kind, file_id=file_id)
                 for (kind, sha), file_id in run.uploaded.items()], ignore_conflicts=True)
        if run.unreachable:
            links.deactivate(run.unreachable)
        return outcomes

    def check(self) -> list[checks.CheckMessage]:
        errors = []
        token = str(self.options.get("token") or "")
        if not token:
            errors.append(checks.Error(f"Send method '{self.alias}': OPTIONS['token'] is empty.",
                                       hint="Set SENDER_TELEGRAM_TOKEN to the token @BotFather gave you.",
                                       id="sender.E030"))
        elif ":" not in token:
            errors.append(checks.Error(f"Send method '{self.alias}': OPTIONS['token'] does not look like a bot "
                                       "token (<bot id>:<secret>).", id="sender.E031"))
        if self.options["long_text"] not in {"refuse", "split"}:
            errors.append(checks.Error(f"Send method '{self.alias}': OPTIONS['long_text'] must be 'refuse' or "
                                       f"'split', not {self.options['long_text']!r}.", id="sender.E032"))
        try:
            if float(self.options["rate"]) <= 0 or float(self.options["chat_interval"]) < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(checks.Error(f"Send method '{self.alias}': OPTIONS['rate'] must be a positive number and "
                                       "OPTIONS['chat_interval'] zero or more.", id="sender.E033"))
        return errors


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


class Delivery:
    """One batch in flight: the file ids known so far, the chats found unreachable."""

    def __init__(self, method: TelegramMethod, items: list[Item], file_ids: dict[tuple[str, str], str]):
        self.method = method
        self.items = items
        self.file_ids = dict(file_ids)  # (kind, sha256) -> file_id
        self.uploaded: dict[tuple[str, str], str] = {}
        self.unreachable: dict[str, str] = {}  # chat id -> Telegram's words

    def _missing_files(self) -> bool:
        return any(i.attachment and (i.kind, i.attachment.sha256) not in self.file_ids for i in self.items)

    async def all(self, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        bot = await self.method.running_bot()
        outcomes: dict[int, Outcome] = {}
        queue = list(rows)
        # Upload each attachment once: chats one at a time until every file has an id.
        while queue and self._missing_files():
            row = queue.pop(0)
            outcomes[row.id] = await self.one(bot, row)
        semaphore = asyncio.Semaphore(int(self.method.options["concurrency"]))

        async def limited(row: MessageRecipient) -> Outcome:
            async with semaphore:
                return await self.one(bot, row)

        for outcome in await asyncio.gather(*(limited(row) for row in queue)):
            outcomes[outcome.row_id] = outcome
        return [outcomes[row.id] for row in rows]

    async def one(self, bot: ExtBot, row: MessageRecipient) -> Outcome:
        """Send every item to one chat, in order; stop at the first refusal."""
        chat_id, sent = row.address, 0
        last: Message | None = None
        try:
            for item in self.items:
                last = await self.send(bot, chat_id, item)
                sent += 1
        except RetryAfter as exc:
            return Outcome(row.id, RETRY, exc.message)
        except Forbidden as exc:
            self.unreachable[chat_id] = exc.message
            return Outcome(row.id, Status.FAILED, exc.message)
        except ChatMigrated as exc:
            return Outcome(row.id, Status.FAILED, _("The group moved to chat %(id)s.") % {"id": exc.new_chat_id})
        except BadRequest as exc:
            if any(words in exc.message.lower() for words in UNREACHABLE):
                self.unreachable[chat_id] = exc.message
            return Outcome(row.id, Status.FAILED, exc.message)
        except TimedOut as exc:
            return Outcome(row.id, Status.UNKNOWN, _(
                "Telegram did not answer in time; the message may or may not have arrived (%(error)s)."
            ) % {"error": exc.message})
        except NetworkError as exc:
            if sent:
                return Outcome(row.id, Status.UNKNOWN, _("Only %(n)d of %(total)d parts arrived: %(error)s")
                               % {"n": sent, "total": len(self.items), "error": exc.message})
            return Outcome(row.id, RETRY, exc.message)
        ref = f"{last.chat.id}:{last.message_id}" if last else ""
        return Outcome(row.id, Status.SUCCESS, "", ref)

    async def send(self, bot: ExtBot, chat_id: str, item: Item) -> Message:
        if item.kind == "text":
            return await bot.send_message(chat_id, item.text)
        attachment = item.attachment
        key = (item.kind, attachment.sha256)
        file_id = self.file_ids.get(key)
        if file_id is None:
            payload = await asyncio.to_thread(_read, attachment)
            if item.kind == "photo":
                message = await bot.send_photo(chat_id, payload, filename=attachment.name)
                file_id = message.photo[-1].file_id
            else:
                message = await bot.send_document(chat_id, payload, filename=attachment.name)
                file_id = message.document.file_id
            self.file_ids[key] = self.uploaded[key] = file_id
            return message
        if item.kind == "photo":
            return await bot.send_photo(chat_id, file_id)
        return await bot.send_document(chat_id, file_id)


def _read(attachment: MessageAttachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, preferring paragraph, line and
    word boundaries; a single word longer than the limit is cut where it must be."""
    parts = []
    while len(text) > limit:
        window = text[:limit]
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > limit // 2:
                break
        else:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text.strip() or not parts:
        parts.append(text)
    return parts
