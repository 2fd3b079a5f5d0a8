"""Staff answer an SMS reply from the broadcast page or the recipient's history."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sender.access import staff_required, visible_broadcasts
from sender.exceptions import SelectionError
from sender.models import IncomingMessage
from sender.permissions import can_send
from sender.pipeline.answers import respond


@staff_required
@require_POST
def answer_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the typed answer to whoever sent reply `pk` (a reply to a broadcast the user sees)."""
    reply = get_object_or_404(IncomingMessage, pk=pk, message_sent__broadcast__in=visible_broadcasts(request.user))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = reply.message_sent.broadcast.get_absolute_url()
    body = request.POST.get("body", "").strip()
    if not can_send(request.user):
        raise PermissionDenied(_("You do not have permission to send messages."))
    if not body:
        messages.error(request, _("Write a message first."))
        return redirect(back)
    try:
        sent = respond(reply, body, request.user, request.POST.get("idempotency_key", "")[:64] or uuid.uuid4().hex)
    except (SelectionError, PermissionDenied) as exc:
        messages.error(request, " ".join(str(e) for e in getattr(exc, "errors", [exc])))
    else:
        if sent is None:
            messages.error(request, _("This number is not linked to a recipient: it cannot be answered from here."))
        else:
            messages.success(request, _("Your answer is on its way."))
    return redirect(back)
