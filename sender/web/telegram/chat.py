"""One recipient's Telegram conversation for staff: what was sent (in broadcasts the user
may see) and what the person wrote, merged by time. Two queries whatever the length."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models

from sender.access import visible_broadcasts
from sender.channels.telegram.links import telegram_aliases
from sender.models import IncomingMessage, MessageRecipient

HISTORY = 200


@dataclass(frozen=True)
class Entry:
    direction: str  # "out" (sent by us) or "in" (written by the person)
    at: datetime
    text: str
    id: int
    status: str = ""
    status_label: str = ""
    reason: str = ""
    sender: str = ""


def history(obj: models.Model, user: AbstractBaseUser, limit: int = HISTORY) -> list[Entry]:
    """The last `limit` messages each way, oldest first."""
    ct = ContentType.objects.get_for_model(obj)
    aliases = telegram_aliases()
    sent = (MessageRecipient.objects
            .filter(content_type=ct, object_id=str(obj.pk), message_sent__method__in=aliases,
                    message_sent__broadcast__in=visible_broadcasts(user).values("pk"))
            .select_related("message_sent__broadcast__sender").order_by("-created_at", "-id")[:limit])
    received = (IncomingMessage.objects.filter(content_type=ct, object_id=str(obj.pk), method__in=aliases)
                .order_by("-received_at", "-id")[:limit])
    # A row keeps its own text when placeholders made it differ from the body: show what the person read.
    entries = [Entry("out", row.sent_at or row.created_at, row.text or row.message_sent.broadcast.body, row.pk,
                     row.status, str(row.get_status_display()), row.reason, str(row.message_sent.broadcast.sender))
               for row in sent]
    entries += [incoming_entry(message) for message in received]
    return sorted(entries, key=lambda e: (e.at, e.direction == "in", e.id))


def incoming_entry(message: IncomingMessage) -> Entry:
    return Entry("in", message.received_at, message.text, message.pk)
