"""Cancel: stop what is still pending; rows already with a worker finish normally."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline import progress
from sender.statuses import FailureCode

Status = MessageRecipient.Status
ACTIVE = (MessageSent.Status.PREPARING, MessageSent.Status.QUEUED, MessageSent.Status.SENDING, MessageSent.Status.PAUSED)


def cancel(broadcast: Broadcast, user: AbstractBaseUser) -> int:
    """Mark every unclaimed pending row failed ("cancelled by …"); return how many."""
    now = timezone.now()
    reason = _("Cancelled by %(user)s before it was sent.") % {"user": user.get_username()}
    total = 0
    for sent in broadcast.sents.filter(status__in=ACTIVE):
        with transaction.atomic():
            n = MessageRecipient.objects.filter(
                Q(claim__isnull=True) | Q(lease_until__lt=now), message_sent=sent, status=Status.PENDING,
            ).update(status=Status.FAILED, reason=reason, reason_code=FailureCode.NOT_SENT, claim=None, lease_until=None, updated_at=now)
            MessageSent.objects.filter(pk=sent.pk).update(
                status=MessageSent.Status.CANCELLED, finished_at=now, error=reason,
                pending_count=F("pending_count") - n, failed_count=F("failed_count") + n,
            )
        sent.refresh_from_db()
        progress.publish(sent)
        total += n
    return total
