"""Unread-counter events on the channel layer.

Delivery publishes one event per batch of a storage method to one group that every open
inbox socket joins, not one event per recipient: a batch of 10,000 rows costs one
`group_send`, and each socket re-reads its own count (one query). Reading a message
publishes to the reader's own group, so their other tabs follow. As with progress events,
a layer that is down never stops delivery, and sockets also poll the database, because the
embedded in-memory layer cannot carry events from worker processes.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from sender.inbox.messages import storage_aliases
from sender.models import MessageSent
from sender.signals import batch_delivered

logger = logging.getLogger(__name__)
DELIVERED_GROUP = "inbox-delivered"
EVENT = {"type": "inbox.changed"}


def user_group(user_id: int) -> str:
    return f"inbox-user-{user_id}"


def _send(group: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, EVENT)
    except Exception:  # an optional observer; delivery and reading go on without it
        logger.warning("Could not publish inbox event to %s", group, exc_info=True)


@receiver(batch_delivered, dispatch_uid="sender_inbox_delivered")
def publish_delivered(sender, message_sent: MessageSent, **kwargs) -> None:
    """Stored messages just reached people: every open inbox re-reads its count."""
    if message_sent.method in storage_aliases():
        _send(DELIVERED_GROUP)


def publish_read(user_id: int) -> None:
    """The user read something: their open inboxes re-read the count."""
    _send(user_group(user_id))
