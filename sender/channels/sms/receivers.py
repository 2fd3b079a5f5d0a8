"""Signal receivers of the SMS channel."""

from django.dispatch import receiver

from sender.channels import methods
from sender.channels.sms.gateways import match_pending
from sender.models import MessageSent
from sender.signals import batch_delivered


@receiver(batch_delivered, dispatch_uid="sender_sms_pending_pushes")
def apply_early_pushes(sender, message_sent: MessageSent, **kwargs) -> None:
    """Delivery reports pushed before the batch's rows were recorded apply now (only methods
    sending through SmsGateway rows: no query for any other batch)."""
    if methods.settings.get(message_sent.method, {}).get("OPTIONS", {}).get("backend") == "gateways":
        match_pending(message_sent.pk)
