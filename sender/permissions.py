"""Who may send."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from sender.conf import sender_settings


def can_send(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Active staff with the `send_message` permission, or members of a group in SEND_GROUPS."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.has_perm("sender.send_message"):
        return True
    groups = sender_settings.SEND_GROUPS
    return bool(groups) and user.groups.filter(name__in=groups).exists()
