"""Which broadcasts and attachments a user may see. Every view and socket goes through here."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from sender.models import Broadcast, MessageAttachment


def visible_broadcasts(user: AbstractBaseUser) -> QuerySet[Broadcast]:
    """Own broadcasts; everyone's with `view_all_messages`."""
    if not user.is_authenticated:
        return Broadcast.objects.none()
    if user.has_perm("sender.view_all_messages"):
        return Broadcast.objects.all()
    return Broadcast.objects.filter(sender=user)


def visible_attachments(user: AbstractBaseUser) -> QuerySet[MessageAttachment]:
    """Attachments the user uploaded or that belong to a broadcast they may see."""
    if not user.is_authenticated:
        return MessageAttachment.objects.none()
    if user.has_perm("sender.view_all_messages"):
        return MessageAttachment.objects.all()
    return MessageAttachment.objects.filter(uploaded_by=user) | MessageAttachment.objects.filter(
        broadcast__in=visible_broadcasts(user)
    )
