"""A worker that died mid-batch, staged without killing anything: it holds the batch's rows
under a lease that has run out, after one attempt, and left the crash journal of what the
gateway had taken. The real worker then takes over (the real SIGKILLs: tests/scale)."""

import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.utils import timezone

from sender.channels import Outcome
from sender.models import MessageRecipient, MessageSent
from sender.pipeline import journal


def dead_worker(sent: MessageSent, journaled: Sequence[Outcome], batch: int = 0) -> uuid.UUID:
    """Stage the dead worker of `sent`'s `batch`, whose journal holds `journaled`; its claim token."""
    token = uuid.uuid4()
    MessageRecipient.objects.filter(message_sent=sent, batch=batch).update(
        claim=token, lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    log = journal.Journal(sent.pk, batch, token)
    log.write(journaled)
    log.close(keep=True)  # as a killed process leaves it
    return token
