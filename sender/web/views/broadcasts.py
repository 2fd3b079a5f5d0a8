from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sender.access import (
    CANCEL_REFUSAL,
    RESUME_REFUSAL,
    inbox_for_recipients,
    may_manage,
    staff_required,
    visible_attachments,
    visible_broadcasts,
)
from sender.inbox.files import file_response, thumbnail_response
from sender.models import Broadcast, MessageSent
from sender.permissions import can_send
from sender.pipeline.cancel import ACTIVE, cancel
from sender.pipeline.pause import resume_broadcast
from sender.web.views.history import recipient_rows


@inbox_for_recipients
@staff_required
def home(request: HttpRequest) -> HttpResponse:
    broadcasts = (visible_broadcasts(request.user).filter(origin=Broadcast.Origin.BROADCAST)
                  .select_related("sender", "typology").prefetch_related("sents")[:20])
    return render(request, "sender/home.html", {"broadcasts": broadcasts, "can_send": can_send(request.user)})


@staff_required
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = get_object_or_404(
        visible_broadcasts(request.user).select_related("sender", "typology").prefetch_related("sents", "attachments"),
        pk=pk,
    )
    active = any(sent.status in ACTIVE for sent in broadcast.sents.all())
    owner = may_manage(request.user, broadcast)
    may_cancel = active and owner
    may_resume = owner and any(sent.status == MessageSent.Status.PAUSED for sent in broadcast.sents.all())
    return render(request, "sender/broadcast.html", {"broadcast": broadcast, "may_cancel": may_cancel,
                                                     "may_resume": may_resume,
                                                     "can_send": can_send(request.user),
                                                     **recipient_rows(request, broadcast)})


@staff_required
def attachment_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    attachment = get_object_or_404(visible_attachments(request.user).distinct(), pk=pk)
    return file_response(attachment, inline=False)


@staff_required
@require_POST
def broadcast_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = get_object_or_404(visible_broadcasts(request.user), pk=pk)
    if not may_manage(request.user, broadcast):
        messages.error(request, CANCEL_REFUSAL)
    else:
        n = cancel(broadcast, request.user)
        messages.success(request, ngettext("Cancelled: %(n)d message will not be sent.",
                                           "Cancelled: %(n)d messages will not be sent.", n) % {"n": n})
    return redirect(broadcast)


@staff_required
@require_POST
def broadcast_resume(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = get_object_or_404(visible_broadcasts(request.user), pk=pk)
    if not may_manage(request.user, broadcast):
        messages.error(request, RESUME_REFUSAL)
    elif resume_broadcast(broadcast, request.user):
        messages.success(request, _("Resumed: its pending messages are queued again."))
    else:
        messages.warning(request, _("Nothing of this broadcast is paused."))
    return redirect(broadcast)


@staff_required
def attachment_thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    attachment = get_object_or_404(visible_attachments(request.user).distinct(), pk=pk)
    if not attachment.is_image:
        raise Http404
    return thumbnail_response(attachment)
