"""What the SMS channel keeps of its own: gateway orders to poll, and each account's state."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from sender.models import MessageSent


class GatewayOrder(models.Model):
    """One order handed to an SMS gateway (many recipients per call), polled for delivery
    reports until every row of it has a final status or the tracking time runs out."""

    message_sent = models.ForeignKey(
        MessageSent, on_delete=models.CASCADE, related_name="orders", verbose_name=_("message sent")
    )
    order_id = models.CharField(_("order id"), max_length=64, unique=True)
    size = models.PositiveIntegerField(_("recipients"), default=0)
    open = models.BooleanField(_("open"), default=True)
    next_poll_at = models.DateTimeField(_("next poll at"))
    polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("gateway order")
        verbose_name_plural = _("gateway orders")
        indexes = [models.Index(fields=["open", "next_poll_at"], name="gatewayorder_due")]

    def __str__(self) -> str:
        return self.order_id


class GatewayState(models.Model):
    """What we know of one SMS method's gateway account: the credit it last reported, the
    token of its polling task (exactly one queued poll task holds the current token), and how
    far its received SMS were read and stored."""

    method = models.CharField(_("send method"), max_length=32, unique=True)
    credits = models.JSONField(_("credits"), default=dict, blank=True,
                               help_text=_("Remaining SMS per message type, as the gateway last said."))
    money = models.DecimalField(_("money left"), max_digits=12, decimal_places=4, null=True, blank=True)
    credits_at = models.DateTimeField(_("credits checked at"), null=True, blank=True)
    poll_token = models.UUIDField(_("poll token"), null=True, blank=True, editable=False)
    poll_due_at = models.DateTimeField(_("next poll at"), null=True, blank=True)
    polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    incoming_cursor = models.JSONField(
        _("received SMS read up to"), default=dict, blank=True, editable=False,
        help_text=_("Our own read position in the gateway's received-SMS history, saved with what it stored."),
    )

    class Meta:
        verbose_name = _("gateway state")
        verbose_name_plural = _("gateway states")

    def __str__(self) -> str:
        return self.method
