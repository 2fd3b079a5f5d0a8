"""Storage: the message is kept for recipients to read online. No external call."""

from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _

from sender.audience.placeholders import keep_texts, row_texts, uses_placeholders
from sender.channels.base import BaseMethod, Outcome
from sender.models import MessageRecipient, MessageSent


class StorageMethod(BaseMethod):
    kind = "storage"
    label = _("Storage (read online)")
    address_field = None  # the recipient itself is the address

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        """Each row keeps its reader's text when placeholders (or escaped braces) make it differ
        from the body; the inbox shows that text."""
        body = message.broadcast.body
        if uses_placeholders(body):
            keep_texts(body, row_texts(body, rows))
        return [Outcome(row.id, MessageRecipient.Status.DELIVERED) for row in rows]
