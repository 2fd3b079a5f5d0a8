"""Who may do what. Every role check of views, sockets, the API and the recipient models'
visibility starts here, so the roles mean the same everywhere:

- anonymous, and any account that is not active staff (a plain account, an inbox recipient):
  no staff page, no recipient data, no broadcast;
- staff (`is_staff`, active): staff pages, within what `get_filters_viewers` lets them see;
- senders: staff who may also send (`can_send`);
- superusers: all of it, everyone's broadcasts and recipients.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from sender.conf import sender_settings


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """An active, logged-in staff member: the only kind of account that may see staff pages."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def can_send(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Active staff with the `send_message` permission, or members of a group in SEND_GROUPS."""
    if not is_staff(user):
        return False
    if user.has_perm("sender.send_message"):
        return True
    groups = sender_settings.SEND_GROUPS
    return bool(groups) and user.groups.filter(name__in=groups).exists()
