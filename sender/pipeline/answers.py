"""Answering incoming SMS, in the spirit of RapidSMS apps: `SENDER["SMS_HANDLERS"]` lists
handlers in order, each with how it recognises a message (`"pattern"`: a regular expression
searched in the text; `"keywords"`: the text, letters and digits only, is one of them;
`"match"`: the dotted path of a predicate on the text) and the dotted path of the handler.
The first handler that recognises a reply gets a `Reply`; it may `respond(text)`.

A response is an ordinary broadcast through the ledger, sent by whoever sent the broadcast
being answered, to the recipient record the reply is linked to, preferring the gateway the
reply came through. Replies from numbers we never wrote to cannot be answered this way.
STOP is one handler: `opt_out`.
"""

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.dispatch import receiver
from django.utils.module_loading import import_string

from sender.audience.models import OptOut
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.registry import aliases_of
from sender.channels.sms.models import SmsDispatch
from sender.conf import sender_settings
from sender.models import Broadcast, IncomingMessage, MessageSent, reply_address
from sender.pipeline.commit import commit
from sender.signals import message_received

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """What a handler gets: the stored message, and the match of its pattern (if any)."""

    message: IncomingMessage
    match: re.Match[str] | None = None

    def respond(self, text: str) -> Broadcast | None:
        return respond(self.message, text)


@cache
def _compiled(entries: tuple) -> list[tuple[Callable[[str], re.Match[str] | bool | None], Callable[[Reply], None]]]:
    handlers = []
    for entry in entries:
        entry = dict(entry)
        if "pattern" in entry:
            recognise = re.compile(entry["pattern"], re.IGNORECASE).search
        elif "keywords" in entry:
            words = {w.upper() for w in entry["keywords"]}
            recognise = (lambda words: lambda text: "".join(c for c in text.upper() if c.isalnum()) in words)(words)
        else:
            recognise = import_string(entry["match"])
        handlers.append((recognise, import_string(entry["handler"])))
    return handlers


def handlers() -> list[tuple[Callable, Callable[[Reply], None]]]:
    return _compiled(tuple(tuple(sorted(e.items(), key=lambda kv: kv[0])) for e in sender_settings.SMS_HANDLERS))


def route(messages: Iterable[IncomingMessage]) -> int:
    """Give each SMS reply to the first handler that recognises it; return how many were handled.
    A handler that fails is logged; the next reply is still handled."""
    sms = set(aliases_of("sms"))
    handled = 0
    for message in messages:
        if message.method not in sms:
            continue
        for recognise, handler in handlers():
            found = recognise(message.text)
            if found:
                try:
                    handler(Reply(message, found if isinstance(found, re.Match) else None))
                except Exception:  # the project's own code may raise anything: logged, the next replies go on
                    logger.exception("SMS handler %s failed on reply %s", handler, message.pk)
                handled += 1
                break
    return handled


def respond(message: IncomingMessage, text: str, user: AbstractBaseUser | None = None,
            key: str = "") -> Broadcast | None:
    """Answer a reply with a broadcast to its sender's record, through the gateway it came by,
    sent by `user` (a handler: the sender of the answered broadcast). SelectionError or
    PermissionDenied when `user` may not send to that record."""
    if message.message_sent_id is None or message.content_type_id is None:
        logger.info("SMS reply %s is from a number we never wrote to: not answered", message.pk)
        return None
    if user is None:
        user = MessageSent.objects.select_related("broadcast__sender").get(pk=message.message_sent_id).broadcast.sender
    label = message.content_type.app_label + "." + message.content_type.model
    with transaction.atomic():
        broadcast = commit(Selection.parse({label: {"ids": [message.object_id]}}), user, [message.method],
                           Draft(body=text), key or f"reply-{message.pk}-{uuid.uuid4().hex[:16]}")
        gateway = came_by(message)
        if gateway:
            sent = broadcast.sents.get()
            MessageSent.objects.filter(pk=sent.pk).update(extra={**sent.extra, "gateway": gateway})
    return broadcast


def came_by(message: IncomingMessage) -> str:
    """The gateway that sent the message being answered to this number ("" when unknown)."""
    return SmsDispatch.objects.filter(reply_address("recipient__"), recipient__message_sent_id=message.message_sent_id,
                                      recipient__address=message.sender).values_list("gateway__name", flat=True).first() or ""


@receiver(message_received, dispatch_uid="sender_pipeline_sms_handlers")
def handle_replies(sender, messages, **kwargs) -> None:
    route(messages)


def opt_out(reply: Reply) -> None:
    """STOP: the number opts out of this send method."""
    OptOut.objects.get_or_create(method=reply.message.method, address=reply.message.sender,
                                 defaults={"source": OptOut.Source.SMS})
