"""Staff pages: one recipient's Telegram chat (history, reply box, link state) and making a
deep link for them. The webhook is in webhook.py."""

import uuid

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from telegram.helpers import create_deep_linked_url

from sender.access import staff_required
from sender.audience.resolve import find_visible
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.telegram import links
from sender.channels.telegram.bot import telegram_method
from sender.channels.telegram.gateway import LOOP
from sender.channels.telegram.models import DeepLink, TelegramLink
from sender.exceptions import DeliveryError, SelectionError
from sender.models import Broadcast
from sender.permissions import can_send
from sender.pipeline.commit import commit
from sender.web.telegram import chat
from sender.web.telegram.live import chat_group

REPLY_MAX = 4096


def recipient_or_404(request: HttpRequest, label: str, pk: str) -> models.Model:
    """A recipient the user may see; anything else (another's, unknown model, not an id) is a 404."""
    obj = find_visible(label, pk, request.user)
    if obj is None:
        raise Http404
    return obj


def bot_username() -> str:
    """The bot's @username, from the settings or else asked of Telegram once."""
    method = telegram_method()
    if method.options.get("username"):
        return method.options["username"]
    return LOOP.run(method.running_bot()).username


@staff_required
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
        commit(Selection.parse({label: {"ids": [str(obj.pk)]}}), request.user, [alias], Draft(body=body), key,
               origin=Broadcast.Origin.CHAT)
    except (SelectionError, PermissionDenied) as exc:
        return " ".join(str(e) for e in getattr(exc, "errors", [exc]))
    messages.success(request, _("Your reply is on its way."))
    return ""


@staff_required
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
