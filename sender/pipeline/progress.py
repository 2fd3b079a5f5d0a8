"""Progress events on the channel layer, one group per broadcast.

Watchers (the broadcast page's websocket) join `group_name(broadcast_id)`. A layer that
is down never stops delivery: the event is logged and dropped; the page also reads the
counters from the database when it connects.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.dispatch import receiver

from sender.formats import money
from sender.models import MessageSent
from sender.signals import message_status_changed

logger = logging.getLogger(__name__)


def group_name(broadcast_id: int) -> str:
    return f"broadcast-{broadcast_id}"


def counters(sent: MessageSent) -> dict:
    """What a watcher shows of one method of a broadcast."""
    return {
        "status": sent.status,
        "status_display": str(sent.get_status_display()),
        **sent.counts(),
        "total": sent.total,
        "cost": str(sent.cost),
        "cost_display": money(sent.cost),
    }


def publish(sent: MessageSent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer) and group_name(sent.broadcast_id) not in layer.groups:
        return  # nobody watches in this process: skip the hop through async_to_sync (a thread per call)
    event = {"type": "broadcast.progress", "sent_id": sent.pk, "method": sent.method, **counters(sent)}
    try:
        async_to_sync(layer.group_send)(group_name(sent.broadcast_id), event)
    except Exception:  # the layer is an optional observer; delivery must go on without it
        logger.warning("Could not publish progress for broadcast %s", sent.broadcast_id, exc_info=True)


@receiver(message_status_changed, dispatch_uid="sender_pipeline_progress")
def _receipts_moved_rows(sender, message_sent_id: int, **kwargs) -> None:
    """Delivery reports changed rows after sending: watchers see the new counters."""
    sent = MessageSent.objects.filter(pk=message_sent_id).first()
    if sent is not None:
        publish(sent)
