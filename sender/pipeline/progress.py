"""Progress events on the channel layer, one group per broadcast.

Watchers (the broadcast page's websocket) join `group_name(broadcast_id)`. A layer that
is down never stops delivery: the event is logged and dropped; the page also reads the
counters from the database when it connects.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ..models import MessageSent

logger = logging.getLogger(__name__)


def group_name(broadcast_id: int) -> str:
    return f"broadcast-{broadcast_id}"


def publish(sent: MessageSent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "broadcast.progress", "sent": sent.pk, "method": sent.method, **sent.counters()}
    try:
        async_to_sync(layer.group_send)(group_name(sent.broadcast_id), event)
    except Exception:  # the layer is an optional observer; delivery must go on without it
        logger.warning("Could not publish progress for broadcast %s", sent.broadcast_id, exc_info=True)
