"""New Telegram messages pushed to the staff chat pages that show that person."""

import hashlib
import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver
from django.template.loader import render_to_string

from sender.channels.registry import aliases_of
from sender.models import IncomingMessage
from sender.signals import message_received
from sender.web.telegram.chat import incoming_entry

SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def chat_group(content_type_id: int, object_id: str) -> str:
    """The channel-layer group of one recipient's chat view."""
    key = object_id if SAFE.match(object_id) else hashlib.sha1(object_id.encode()).hexdigest()
    return f"telegram-chat-{content_type_id}-{key}"



@receiver(message_received, dispatch_uid="sender_web_telegram_chat")
def push_to_chat_pages(sender, messages: list[IncomingMessage], **kwargs) -> None:
    aliases = aliases_of("telegram")
    for message in messages:
        if message.method in aliases:
            notify(message)


def notify(message: IncomingMessage) -> None:
    """Push the new message to whoever has this recipient's chat view open."""
    layer = get_channel_layer()
    if layer is None or message.content_type_id is None:
        return
    html = render_to_string("telegram/_entry.html", {"entry": incoming_entry(message)})
    async_to_sync(layer.group_send)(chat_group(message.content_type_id, message.object_id),
                                    {"type": "chat.message", "id": message.pk, "html": html})

