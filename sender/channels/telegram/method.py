"""Telegram: text and attachments to linked chats through python-telegram-bot, at the Bot
API's limits.

The network side (the bot, its rate limiter, the sending event loop, Telegram's words) is
sender.channels.telegram.gateway; this module decides what each chat gets and what became of it.
Each attachment is uploaded once and re-sent by `file_id` (kept in TelegramFile, so later
batches and broadcasts reuse it); an image Telegram would refuse as a photo goes as a
document. A `RetryAfter` pauses every request for the time Telegram asks and tries again;
when the tries run out the row is retried later from the first message the chat has not
had (TelegramProgress). Chats are sent to concurrently (OPTIONS["concurrency"] at once, taken
in id order); each chat's outcome is `report()`ed the moment its last answer came, so after
a crash only the chats that were in flight are sent again. A group upgraded to a supergroup is sent to at its new id, which
replaces the old one on the recipient. A chat that blocked the bot or does not exist fails
with Telegram's words and its link goes inactive, so it is not tried again.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from PIL import Image, UnidentifiedImageError
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from sender.audience.placeholders import keep_texts, row_texts, uses_placeholders
from sender.channels.base import RETRY, BaseMethod, Draft, Outcome, report
from sender.channels.telegram import gateway, links
from sender.channels.telegram.gateway import LOOP, Gateway
from sender.channels.telegram.models import TelegramFile, TelegramProgress
from sender.exceptions import InvalidAddress
from sender.models import MessageAttachment, MessageRecipient, MessageSent
from sender.ratelimit import shared_limiter

Status = MessageRecipient.Status
TEXT_MAX = 4096
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000  # width + height
PHOTO_MAX_RATIO = 20
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
DEFAULTS: dict[str, Any] = {
    "token": "", "base_url": "https://api.telegram.org/bot", "base_file_url": "https://api.telegram.org/file/bot",
    "rate": 30, "chat_interval": 1.0, "max_retries": 5, "concurrency": 32, "long_text": "refuse",
    "timeout": 20.0, "webhook_secret": "", "username": "",
}


def _dimensions(attachment: MessageAttachment) -> tuple[int, int] | None:
    """Width and height from the image header (nothing else is read), or None if unreadable."""
    try:
        with attachment.file.open("rb") as f, Image.open(f) as image:
            return image.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def photo_refusal(attachment: MessageAttachment) -> str | None:
    """Why Telegram would refuse this image as a photo (it then goes as a document), or None.
    Not an image Telegram shows as a photo at all (a GIF, a PDF): None too."""
    if attachment.content_type not in PHOTO_TYPES:
        return None
    if attachment.size > PHOTO_MAX_BYTES:
        return _("“%(name)s” will reach Telegram as a document: photos are limited to 10 MB.") % {
            "name": attachment.name}
    size = _dimensions(attachment)
    if size is None:
        return None
    width, height = size
    if width + height > PHOTO_MAX_SIDES or max(width, height) > PHOTO_MAX_RATIO * max(1, min(width, height)):
        return _("“%(name)s” (%(width)d×%(height)d pixels) will reach Telegram as a document: photos may measure "
                 "at most 10,000 pixels width plus height, with one side at most 20 times the other.") % {
            "name": attachment.name, "width": width, "height": height}
    return None


def sent_as(attachment: MessageAttachment) -> str:
    """"photo" for an image Telegram takes as one, else "document"."""
    return "photo" if attachment.content_type in PHOTO_TYPES and photo_refusal(attachment) is None else "document"


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
        # Chats are sent to `concurrency` at a time, in id order: after a crash, only that many
        # rows past the last one reported may have gone out unrecorded.
        self.in_flight = max(1, int(self.options["concurrency"]))
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
        notes = [refusal for a in draft.attachments if (refusal := photo_refusal(a))]
        n = len(self.parts(draft.body))
        if n > 1:
            notes.insert(0, ngettext(
                "The text is longer than %(max)d characters: Telegram gets it as %(n)d message.",
                "The text is longer than %(max)d characters: Telegram gets it as %(n)d messages.", n)
                % {"max": TEXT_MAX, "n": n})
        return notes

    def items(self, body: str, attachments: Sequence[MessageAttachment]) -> list[Item]:
        texts = [Item("text", part) for part in self.parts(body) if part.strip()]
        return texts + [Item(sent_as(a), attachment=a) for a in attachments]

    # -- the bot -----------------------------------------------------------------------------

    def bot(self, rate_limited: bool = True):
        """An ExtBot for this configuration, for one event loop."""
        return gateway.make_bot(self.options, rate_limited, shared_limiter() if rate_limited else None)

    async def running_bot(self):
        """This configuration's initialized bot on the sending loop (made on first use), its
        limits shared with every worker process (`SENDER["RATE_LIMITER"]`)."""
        return await gateway.running_bot(self.options, shared_limiter())

    @property
    def bot_id(self) -> int:
        """The numeric part of the token: file ids belong to one bot."""
        head = str(self.options["token"]).partition(":")[0]
        return int(head) if head.isdigit() else 0

    # -- delivery ----------------------------------------------------------------------------

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        broadcast = message.broadcast
        attachments = list(broadcast.attachments.order_by("pk"))
        items = self.items(broadcast.body, attachments)
        per_row: dict[int, list[Item]] = {}
        if uses_placeholders(broadcast.body):  # each chat reads its own text; equal texts share their items
            by_text: dict[str, list[Item]] = {}
            texts = row_texts(broadcast.body, rows)
            keep_texts(broadcast.body, texts)  # what each chat reads, before it goes out: the chat page shows it
            for row_id, text in texts.items():
                if text not in by_text:
                    by_text[text] = self.items(text, attachments)
                per_row[row_id] = by_text[text]
        bot_id = self.bot_id
        shas = [i.attachment.sha256 for i in items if i.attachment]
        known = {(kind, sha): file_id for kind, sha, file_id in TelegramFile.objects.filter(
            bot_id=bot_id, sha256__in=shas).values_list("kind", "sha256", "file_id")} if shas else {}
        ids = [row.id for row in rows]
        progress = {p.row_id: p for p in TelegramProgress.objects.filter(row_id__in=ids)}
        run = Delivery(self, items, known, progress, per_row)
        outcomes = LOOP.run(run.all(rows))
        if run.uploaded:
            TelegramFile.objects.bulk_create(
                [TelegramFile(bot_id=bot_id, sha256=sha, kind=kind, file_id=file_id)
                 for (kind, sha), file_id in run.uploaded.items()], ignore_conflicts=True)
        if progress:
            TelegramProgress.objects.filter(row_id__in=list(progress)).delete()
        if run.progress:
            TelegramProgress.objects.bulk_create(run.progress.values())
        if run.migrated:
            links.migrate(run.migrated)
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


class Delivery:
    """One batch in flight: the file ids known so far, how far each row got, the chats found
    unreachable or moved."""

    def __init__(self, method: TelegramMethod, items: list[Item], file_ids: dict[tuple[str, str], str],
                 progress: dict[int, TelegramProgress], per_row: dict[int, list[Item]] | None = None):
        self.method = method
        self.items = items
        self.per_row = per_row or {}  # row id -> its own items, when placeholders make texts differ
        self.file_ids = dict(file_ids)  # (kind, sha256) -> file_id
        self.uploaded: dict[tuple[str, str], str] = {}
        self.unreachable: dict[str, str] = {}  # chat id -> Telegram's words
        self.migrated: dict[str, str] = {}  # old group chat id -> its supergroup's
        self.earlier = progress  # row id -> TelegramProgress of an earlier attempt
        self.progress: dict[int, TelegramProgress] = {}  # rows stopped half-way this time

    def _missing_files(self) -> bool:
        return any(i.attachment and (i.kind, i.attachment.sha256) not in self.file_ids for i in self.items)

    async def all(self, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        chats = Gateway(await self.method.running_bot())
        outcomes: dict[int, Outcome] = {}
        queue = list(rows)
        # Upload each attachment once: chats one at a time until every file has an id.
        while queue and self._missing_files():
            row = queue.pop(0)
            outcomes[row.id] = self.answered(await self.one(chats, row))
        # FIFO: chats go out in id order, at most `in_flight` of them unanswered at once.
        semaphore = asyncio.Semaphore(self.method.in_flight)

        async def limited(row: MessageRecipient) -> Outcome:
            async with semaphore:
                return self.answered(await self.one(chats, row))

        for outcome in await asyncio.gather(*(limited(row) for row in queue)):
            outcomes[outcome.row_id] = outcome
        return [outcomes[row.id] for row in rows]

    def answered(self, outcome: Outcome) -> Outcome:
        """Journal the chat's outcome now (the pipeline's listener), before its place goes to the
        next chat. A chat stopped half-way by a flood wait is not: the parts it had are only
        remembered at the end of the batch, so after a crash it counts as in flight."""
        if outcome.row_id not in self.progress:
            report(outcome)
        return outcome

    async def one(self, chats: Gateway, row: MessageRecipient) -> Outcome:
        """Send one chat every item it has not had yet, in order; stop at the first refusal.
        A group that moved gets them at its new id, once."""
        earlier = self.earlier.get(row.id)
        chat_id = earlier.chat_id if earlier else row.address
        sent, ref = (earlier.delivered, earlier.last_ref) if earlier else (0, "")
        moved = chat_id != row.address
        items = self.per_row.get(row.id, self.items)
        while True:
            try:
                for item in items[sent:]:
                    message = await self.send(chats, chat_id, item)
                    sent, ref = sent + 1, f"{message.chat.id}:{message.message_id}"
                return Outcome(row.id, Status.DELIVERED, "", ref)
            except ChatMigrated as exc:
                if moved:
                    return Outcome(row.id, Status.FAILED, _("The group moved twice while we were sending."))
                moved, chat_id = True, str(exc.new_chat_id)
                self.migrated[row.address] = chat_id
            except RetryAfter as exc:
                if sent:
                    self.progress[row.id] = TelegramProgress(row_id=row.id, delivered=sent, chat_id=chat_id,
                                                             last_ref=ref)
                return Outcome(row.id, RETRY, exc.message)
            except Forbidden as exc:
                self.unreachable[chat_id] = exc.message
                return Outcome(row.id, Status.FAILED, exc.message)
            except BadRequest as exc:
                if gateway.unreachable(exc):
                    self.unreachable[chat_id] = exc.message
                return Outcome(row.id, Status.FAILED, exc.message)
            except TimedOut as exc:
                return Outcome(row.id, Status.UNKNOWN, _(
                    "Telegram did not answer in time; the message may or may not have arrived (%(error)s)."
                ) % {"error": exc.message})
            except NetworkError as exc:
                if sent:
                    return Outcome(row.id, Status.UNKNOWN, _("Only %(n)d of %(total)d parts arrived: %(error)s")
                                   % {"n": sent, "total": len(items), "error": exc.message})
                return Outcome(row.id, RETRY, exc.message)

    async def send(self, chats: Gateway, chat_id: str, item: Item):
        if item.kind == "text":
            return await chats.text(chat_id, item.text)
        attachment = item.attachment
        key = (item.kind, attachment.sha256)
        file_id = self.file_ids.get(key)
        if file_id is not None:
            message, _file_id = await chats.file(chat_id, item.kind, file_id)
            return message
        payload = await asyncio.to_thread(_read, attachment)
        message, file_id = await chats.file(chat_id, item.kind, payload, attachment.name)
        if file_id:  # else the next chat uploads it again
            self.file_ids[key] = self.uploaded[key] = file_id
        return message


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
