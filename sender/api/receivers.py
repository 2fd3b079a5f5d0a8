"""Signal receivers: an SMS reply that says STOP opts its number out of that method."""

from django.dispatch import receiver

from ..signals import message_received
from .models import OptOut
from .optout import is_stop_word, normalized


@receiver(message_received, dispatch_uid="sender_api_sms_stop")
def sms_stop(sender, messages, **kwargs) -> None:
    """One INSERT for every STOP in the fetched replies, whatever their number."""
    rows = {(m.method, normalized(m.method, m.sender)) for m in messages if is_stop_word(m.text)}
    OptOut.objects.bulk_create([OptOut(method=method, address=address, source=OptOut.Source.SMS)
                                for method, address in rows], ignore_conflicts=True)
