"""Messages people write to the bot: stored as IncomingMessage (the same model as SMS
replies) and announced with `message_received` (the staff chat page listens)."""

from datetime import datetime

from django.db import IntegrityError, transaction

from sender.channels.telegram.models import TelegramLink
from sender.models import IncomingMessage, MessageRecipient
from sender.signals import message_received


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
    return message
