"""Storage: the message is kept for recipients to read online. No external call."""

from collections.abc import Sequence

from django.utils.translation import gettext_lazy as _

from sender.channels.base import BaseMethod, Outcome
from sender.models import MessageRecipient, MessageSent


class StorageMethod(BaseMethod):
    kind = "storage"
    label = _("Storage (read online)")
    address_field = None  # the recipient itself is the address

    def deliver(self, message: MessageSent, rows: Sequence[MessageRecipient]) -> list[Outcome]:
        return [Outcome(row.id, MessageRecipient.Status.DELIVERED) for row in rows]
