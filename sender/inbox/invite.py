"""Inviting a recipient: create (or reuse) their account, link it, email a set-password link.

The link is Django's own password-reset link (`default_token_generator`, the
`password_reset_confirm` view): it works once, expires after PASSWORD_RESET_TIMEOUT, and
is never stored. The email goes through Django's default mailer, which the project points
at the email send method's SMTP settings (mail.py). It is deliberately not a broadcast: a
broadcast's body is kept and shown to staff, and a set-password link must not be.
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Model, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from sender.inbox.people import linked_user, user_field
from sender.permissions import can_send


class InviteError(ValueError):
    """Why a record cannot be invited, in a sentence staff can act on."""


def may_invite(user: AbstractBaseUser, model: type[Model]) -> bool:
    """Staff who may send may invite the records they can see, when the model links to accounts."""
    return bool(user.is_staff and can_send(user) and user_field(model) and "__" not in user_field(model))


def set_password_url(user: AbstractBaseUser) -> str:
    """The path of a one-time link that lets `user` choose a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})


def invite(record: Model, base_url: str) -> AbstractBaseUser:
    """Link `record` to an account (created when needed) and email it a set-password link.

    `base_url` is the site's scheme and host ("https://sender.example.com"), taken from the
    staff member's request. Inviting again re-sends the link. The account is linked before
    the email goes out, so a mail server that is down leaves a linked account; inviting
    again sends the link.
    """
    field = user_field(type(record))
    if not field or "__" in field:
        raise InviteError(_("%(model)s records cannot be linked to an account here.")
                          % {"model": type(record)._meta.verbose_name})
    address = (record.get_email or "").strip().lower()
    if "@" not in address:
        raise InviteError(_("%(record)s has no email address to send the invitation to.")
                          % {"record": record.get_representation()})
    with transaction.atomic():
        user = linked_user(record) or _account_for(address)
        if user.is_staff or user.is_superuser:
            raise InviteError(_("%(address)s belongs to a staff account; recipients need their own.")
                              % {"address": address})
        taken = type(record)._default_manager.filter(**{field: user.pk}).exclude(pk=record.pk)
        if taken.exists():
            raise InviteError(_("The account of %(address)s already reads the messages of another %(model)s.")
                              % {"address": address, "model": type(record)._meta.verbose_name})
        if getattr(record, f"{field}_id", None) != user.pk:
            setattr(record, field, user)
            record.save(update_fields=[field])
    base = base_url.rstrip("/")
    context = {"record": record.get_representation(), "username": user.get_username(),
               "url": base + set_password_url(user), "inbox_url": base + reverse("sender:inbox")}
    EmailMessage(
        subject=render_to_string("registration/invite_subject.txt", context).strip(),
        body=render_to_string("registration/invite_email.txt", context),
        to=[getattr(user, user.get_email_field_name(), "") or address],
    ).send()
    return user


def _account_for(address: str) -> AbstractBaseUser:
    """The one account whose username or email is this address, or a new one.

    A new account gets a long random password nobody knows, so "forgot password" works
    for it as for any other account.
    """
    User = get_user_model()
    matches = list(User._default_manager.filter(
        Q(**{f"{User.USERNAME_FIELD}__iexact": address}) | Q(**{f"{User.get_email_field_name()}__iexact": address})
    )[:2])
    if len(matches) > 1:
        raise InviteError(_("More than one account uses %(address)s; link the right one in the admin.")
                          % {"address": address})
    if matches:
        return matches[0]
    return User._default_manager.create_user(address, email=address, password=secrets.token_urlsafe(32))
