"""The closed status sets of the ledger, importable without the ORM models (gateways map their
providers' words onto them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

RETRY = "retry"
"""What a gateway answers for a row that met a transient error: it stays pending and is retried."""


class RecipientStatus(models.TextChoices):
    """What is known of one recipient row: one closed set for every channel.

    `sent` means the gateway took it (Skebby accepted the order, the SMTP server answered 250);
    `delivered` means it was confirmed to reach the person (a carrier's delivery report,
    Telegram's answer, a stored message). `failed` keeps why in `MessageRecipient.reason_code`.
    """

    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    UNKNOWN = "unknown", _("unknown")
    INVALID = "invalid", _("invalid")
    DUPLICATE = "duplicate", _("duplicate")
    OPTED_OUT = "opted_out", _("opted out")


class FailureCode(models.TextChoices):
    """Why a `failed` row failed: who said no."""

    NONE = "", _("none")
    REFUSED = "refused", _("refused by the gateway")
    REJECTED = "rejected", _("rejected by the carrier")
    NOT_SENT = "not_sent", _("never handed to the gateway")


RANK: dict[str, int] = {
    RecipientStatus.PENDING: 0,
    RecipientStatus.UNKNOWN: 1,
    RecipientStatus.SENT: 2,
    RecipientStatus.DELIVERED: 3,
    RecipientStatus.FAILED: 3,
}
"""How far a row that went out has got. A status only moves to a higher rank (delivered and
failed are both ends: neither replaces the other); invalid, duplicate and opted out never go out."""

WENT_OUT = (RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.FAILED, RecipientStatus.UNKNOWN)
"""Rows that were handed to a method: only they can get a receipt."""

TAKEN = (RecipientStatus.SENT, RecipientStatus.DELIVERED)
"""Rows a gateway took (and bills)."""


def moves_forward(old: str, new: str) -> bool:
    """Whether a receipt saying `new` may replace `old`: never backwards, never across the two ends."""
    return new in RANK and old in RANK and RANK[new] > RANK[old]


def counter(status: str) -> str:
    """The MessageSent field counting rows in `status`."""
    return f"{status}_count"
