"""The one exception hierarchy of sending from code: catch `SendError` to catch them all."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sender.models import MessageRecipient


class SendError(Exception):
    """Something sent from code did not go out. `rows` holds the ledger rows written, if any."""

    def __init__(self, message: str, rows: "list[MessageRecipient] | None" = None):
        super().__init__(message)
        self.message = message
        self.rows = rows or []


class UnknownMethod(SendError):
    """No configured send method has this alias or kind, or the backend path does not load."""


class BadMessage(SendError):
    """The message cannot go out over this method (empty, too long, no subject...): nothing was written."""


class NotSent(SendError):
    """Rows were written but did not reach the gateway, or it refused them: invalid or opted-out
    addresses, a refusal, a gateway that is down. Each row keeps its status and reason."""
