"""Who reaches which staff page, and which broadcasts and attachments a user may see.
Every staff view goes through `staff_required` or `sender_required`; every view and socket
that shows a broadcast goes through `visible_broadcasts`. The roles: sender/permissions.py."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from sender.models import Broadcast, MessageAttachment
from sender.permissions import can_send, is_staff

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Active staff only. Anonymous visitors log in first; any other account (an inbox
    recipient, a plain account) gets a 403 page that points to its inbox, with no word about
    what staff may do here and before the view looks at any id in the URL."""
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_staff(request.user):
            return render(request, "sender/staff_only.html", status=403)
        return view(request, *args, **kwargs)
    return wrapper


def inbox_for_recipients(view: View) -> View:
    """On pages staff open to start work (the dashboard, /send/), an account that is not
    staff is taken to its inbox: what it came for, with no staff advice. Other staff pages
    keep the 403 of `staff_required`."""
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "GET" and request.user.is_authenticated and not is_staff(request.user):
            return redirect("sender:inbox")
        return view(request, *args, **kwargs)
    return wrapper


def sender_required(view: View) -> View:
    """Staff who may send (`can_send`); staff who may not get a polite 403 page."""
    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_send(request.user):
            return render(request, "sender/not_allowed.html", status=403)
        return view(request, *args, **kwargs)
    return wrapper


def visible_broadcasts(user: AbstractBaseUser) -> QuerySet[Broadcast]:
    """Own broadcasts; everyone's with `view_all_messages`; none for anyone but staff."""
    if not is_staff(user):
        return Broadcast.objects.none()
    if user.has_perm("sender.view_all_messages"):
        return Broadcast.objects.all()
    return Broadcast.objects.filter(sender=user)


def may_manage(user: AbstractBaseUser, broadcast: Broadcast) -> bool:
    """Who may cancel or resume a broadcast they see: the person who sent it, or a superuser
    (seeing everyone's broadcasts is not enough). The one rule for the dashboard and the API."""
    return broadcast.sender_id == user.pk or user.is_superuser


# What both faces tell a user who sees a broadcast but may not manage it (`may_manage`).
CANCEL_REFUSAL = gettext_lazy("Only the person who sent it can cancel this broadcast.")
RESUME_REFUSAL = gettext_lazy("Only the person who sent it can resume this broadcast.")


def visible_attachments(user: AbstractBaseUser) -> QuerySet[MessageAttachment]:
    """Attachments the user uploaded or that belong to a broadcast they may see (staff only;
    recipients reach theirs through the inbox)."""
    if not is_staff(user):
        return MessageAttachment.objects.none()
    if user.has_perm("sender.view_all_messages"):
        return MessageAttachment.objects.all()
    return MessageAttachment.objects.filter(uploaded_by=user) | MessageAttachment.objects.filter(
        broadcast__in=visible_broadcasts(user)
    )
