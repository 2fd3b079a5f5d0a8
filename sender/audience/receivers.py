"""Signal receivers: an SMS reply that says STOP opts its number out of that method (the
number is stored as the channel normalized it)."""

from django.dispatch import receiver

from sender.audience.models import OptOut
from sender.audience.optout import is_stop_word
from sender.signals import message_received


@receiver(message_received, dispatch_uid="sender_audience_sms_stop")
def sms_stop(sender, messages, **kwargs) -> None:
    """One INSERT for every STOP in the fetched replies, whatever their number."""
    rows = {(m.method, m.sender) for m in messages if is_stop_word(m.text)}
    OptOut.objects.bulk_create([OptOut(method=method, address=address, source=OptOut.Source.SMS)
                                for method, address in rows], ignore_conflicts=True)
