"""Staff pages: one recipient's Telegram chat (history, reply box, link state) and making a
deep link for them. The webhook is in webhook.py."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from telegram.helpers import create_deep_linked_url

from ..exceptions import DeliveryError, SelectionError
from ..methods import Draft
from .gateway import LOOP
from ..permissions import can_send
from ..pipeline import Selection, commit
from ..pipeline.resolve import visible
from ..recipients.registry import get_recipient_model
from . import chat, links
from .bot import telegram_method
from .incoming import chat_group
from .models import DeepLink, TelegramLink

REPLY_MAX = 4096


def recipient_or_404(request: HttpRequest, label: str, pk: str) -> models.Model:
    """A recipient the user may see; anything else (another's, unknown model) is a 404."""
    try:
        model = get_recipient_model(label)
    except SelectionError:
        raise Http404 from None
    return get_object_or_404(visible(model, request.user), pk=pk)


def staff_only(view):
    """Staff only; others get the polite refusal page."""
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            return render(request, "sender/not_allowed.html", status=403)
        return view(request, *args, **kwargs)
    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def bot_username() -> str:
    """The bot's @username, from the settings or else asked of Telegram once."""
    method = telegram_method()
    if method.options.get("username"):
        return method.options["username"]
    return LOOP.run(method.running_bot()).username


@staff_only
def chat_view(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    obj = recipient_or_404(request, label, pk)
    method = telegram_method()
    error = ""
    if request.method == "POST":
        error = _reply(request, obj, label, method.alias if method else "")
        if not error:
            return redirect(request.path)
    ct = ContentType.objects.get_for_model(obj)
    link = TelegramLink.objects.filter(content_type=ct, object_id=str(obj.pk)).first()
    deep_link = (DeepLink.objects.filter(content_type=ct, object_id=str(obj.pk), used_at__isnull=True)
                 .order_by("-created_at").first())
    return render(request, "telegram/chat.html", {
        "recipient": obj, "representation": obj.get_representation(), "label": label, "link": link,
        "address": obj.get_telegram, "entries": chat.history(obj, request.user), "method": method,
        "may_send": can_send(request.user), "error": error, "body": request.POST.get("body", ""),
        "idempotency_key": uuid.uuid4().hex, "deep_link": deep_link if deep_link and deep_link.usable else None,
        "deep_link_url": request.session.pop("telegram_deep_link_url", ""),
        "socket": f"/ws/telegram/{label}/{obj.pk}/", "group": chat_group(ct.pk, str(obj.pk)), "max": REPLY_MAX,
    }, status=400 if error else 200)


def _reply(request: HttpRequest, obj: models.Model, label: str, alias: str) -> str:
    """Send the reply through the pipeline; the error to show, or "" when it went out."""
    body = request.POST.get("body", "").strip()
    if not alias:
        return _("Telegram is not configured.")
    if not body:
        return _("Write a message first.")
    key = request.POST.get("idempotency_key", "")[:64] or uuid.uuid4().hex
    try:
        commit(Selection.parse({label: {"ids": [str(obj.pk)]}}), request.user, [alias], Draft(body=body), key)
    except (SelectionError, PermissionDenied) as exc:
        return " ".join(str(e) for e in getattr(exc, "errors", [exc]))
    messages.success(request, _("Your reply is on its way."))
    return ""


@staff_only
@require_POST
def deep_link_view(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    """Make a one-time link that opens the bot with a token for this recipient."""
    obj = recipient_or_404(request, label, pk)
    if not can_send(request.user):
        messages.error(request, _("Only staff who may send can create Telegram links."))
        return redirect(reverse("sender:telegram:chat", args=[label, obj.pk]))
    try:
        username = bot_username()
    except DeliveryError as exc:
        messages.error(request, _("The bot cannot be reached to learn its name: %(error)s") % {"error": exc.message})
        return redirect(reverse("sender:telegram:chat", args=[label, obj.pk]))
    link = links.create_deep_link(obj, request.user)
    request.session["telegram_deep_link_url"] = create_deep_linked_url(username, link.token)
    messages.success(request, _("Link created. Send it to %(name)s: it works once, for %(days)d days.")
                     % {"name": obj.get_representation(), "days": 7})
    return redirect(reverse("sender:telegram:chat", args=[label, obj.pk]))
