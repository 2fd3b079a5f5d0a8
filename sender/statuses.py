"""The closed status sets of the ledger, importable without the ORM models (gateways map their
providers' words onto them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

RETRY = "retry"
"""What a gateway answers for a row that met a transient error: it stays pending and is retried."""


class RecipientStatus(models.TextChoices):
    """What became of one recipient row: one closed set for every channel."""

    PENDING = "pending", _("pending")
    SUCCESS = "success", _("success")
    FAILED = "failed", _("failed")
    UNKNOWN = "unknown", _("unknown")
    INVALID = "invalid", _("invalid")
    DUPLICATE = "duplicate", _("duplicate")
