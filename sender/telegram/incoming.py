"""Messages people write to the bot: stored as IncomingMessage (the same model as SMS
replies), announced with `message_received`, and pushed to the staff chat view."""

import hashlib
import re
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from ..models import IncomingMessage, MessageRecipient
from ..signals import message_received
from .models import TelegramLink

SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def chat_group(content_type_id: int, object_id: str) -> str:
    """The channel-layer group of one recipient's chat view."""
    key = object_id if SAFE.match(object_id) else hashlib.sha1(object_id.encode()).hexdigest()
    return f"telegram-chat-{content_type_id}-{key}"


def store(alias: str, chat_id: int, message_id: int, text: str, when: datetime, bot_username: str = "") -> IncomingMessage | None:
    """Keep what a linked chat wrote. None when the chat is not linked to anyone, or when
    this message was already stored (Telegram delivers again after a failed answer)."""
    link = (TelegramLink.objects.filter(chat_id=chat_id, active=True).order_by("-linked_at")
            .select_related("content_type").first())
    if link is None:
        return None
    last = (MessageRecipient.objects.filter(content_type_id=link.content_type_id, object_id=link.object_id,
                                            message_sent__method=alias)
            .order_by("-id").values_list("message_sent_id", flat=True).first())
    try:
        with transaction.atomic():
            message = IncomingMessage.objects.create(
                method=alias, gateway_id=f"{chat_id}:{message_id}", sender=str(chat_id),
                to=f"@{bot_username}"[:32] if bot_username else "", text=text, received_at=when,
                content_type_id=link.content_type_id, object_id=link.object_id, message_sent_id=last,
            )
    except IntegrityError:
        return None
    message_received.send(sender=IncomingMessage, messages=[message])
    notify(message)
    return message


def notify(message: IncomingMessage) -> None:
    """Push the new message to whoever has this recipient's chat view open."""
    layer = get_channel_layer()
    if layer is None or message.content_type_id is None:
        return
    from .chat import incoming_entry

    html = render_to_string("telegram/_entry.html", {"entry": incoming_entry(message)})
    async_to_sync(layer.group_send)(chat_group(message.content_type_id, message.object_id),
                                    {"type": "chat.message", "id": message.pk, "html": html})

