"""Resume a method paused by a failure of the whole method (credentials refused, no credit,
the bot token revoked): once staff have mended it, its pending rows are queued again.

Pausing happens in deliver (`pause`): the rows of the failed chunk are released untouched,
so nothing was sent and nothing is lost; resuming queues every batch that still has
pending rows, and a claim never takes a row another worker holds, so nothing goes twice.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline import progress
from sender.pipeline.deliver import enqueue_batch

logger = logging.getLogger(__name__)


def resume(sent: MessageSent, user: AbstractBaseUser) -> bool:
    """Queue a paused method again; False when it was not paused."""
    with transaction.atomic():
        if not MessageSent.objects.filter(pk=sent.pk, status=MessageSent.Status.PAUSED).update(
                status=MessageSent.Status.QUEUED, error=""):
            return False
        batches = sorted(set(MessageRecipient.objects.filter(
            message_sent_id=sent.pk, status=MessageRecipient.Status.PENDING).values_list("batch", flat=True)))
        transaction.on_commit(lambda: [enqueue_batch(sent.method, sent.pk, batch) for batch in batches])
    logger.info("method resumed by %s", user.get_username(),
                extra={"broadcast": sent.broadcast_id, "method": sent.method, "sent": sent.pk, "batches": len(batches)})
    sent.refresh_from_db()
    progress.publish(sent)
    return True


def resume_broadcast(broadcast: Broadcast, user: AbstractBaseUser) -> list[str]:
    """Resume every paused method of the broadcast; the aliases resumed."""
    return [sent.method for sent in broadcast.sents.filter(status=MessageSent.Status.PAUSED) if resume(sent, user)]
