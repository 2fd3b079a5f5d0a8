"""The recipients' inbox: list, read, mark all read, unread count, private attachments;
and staff inviting a recipient to it.

Thin: the person, the queries and the access checks are in sender/inbox/.
"""

import logging
import smtplib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from sender.access import staff_required
from sender.audience.resolve import find_visible
from sender.inbox import live
from sender.inbox.context import person
from sender.inbox.files import file_response, readable_attachment, thumbnail_response
from sender.inbox.filters import InboxFilterSet
from sender.inbox.invite import InviteError, invite, may_invite
from sender.inbox.messages import (
    entries,
    find_message,
    mark_all_read,
    mark_read,
    message_ids,
    received,
    tally,
)
from sender.models import MessageRecipient
from sender.permissions import is_staff

logger = logging.getLogger(__name__)

PAGE_SIZE = 20


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Where a login lands: staff on the dashboard, every other account in its inbox."""
    return redirect("sender:home" if is_staff(request.user) else "sender:inbox")


class _CountedPaginator(Paginator):
    """Told its count (worked out together with the unread count), so it never COUNTs again."""

    def __init__(self, object_list, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    me = person(request)
    rows = received(me.records) if me.records else MessageRecipient.objects.none()
    filterset = InboxFilterSet(request.GET, queryset=rows)
    valid = filterset.is_valid()
    filtered = filterset.qs if valid else rows.none()
    if not me.records or not valid:
        total = 0
    elif any(filterset.form.cleaned_data.values()):
        total, _ = tally(filtered, me.records, request.user)
    else:  # the whole inbox: one pass counts the pages and the header's unread badge
        total, me.unread = tally(rows, me.records, request.user)
    page = _CountedPaginator(message_ids(filtered, me.records), PAGE_SIZE, total).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "sender/inbox.html", {
        "page": page, "entries": entries(list(page.object_list), request.user), "filter": filterset,
        "query": query.urlencode(),
    })


@login_required
def inbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = find_message(person(request).records, pk)
    if message is None:
        raise Http404
    if mark_read(message, request.user):
        live.publish_read(request.user.pk)
    return render(request, "sender/inbox_message.html", {"message": message, "broadcast": message.broadcast})


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    n = mark_all_read(person(request).records, request.user)
    if n:
        live.publish_read(request.user.pk)
    messages.success(request, ngettext("%(n)d message marked read.", "%(n)d messages marked read.", n) % {"n": n})
    return redirect("sender:inbox")


@login_required
@require_GET
def inbox_unread(request: HttpRequest) -> JsonResponse:
    """{"unread": n} for the logged-in person, for other apps and scripts."""
    return JsonResponse({"unread": person(request).unread})


@login_required
def inbox_attachment(request: HttpRequest, sent_id: int, pk: int) -> HttpResponseBase:
    attachment = readable_attachment(request.user, person(request).records, sent_id, pk)
    if attachment is None:
        raise Http404
    return file_response(attachment)


@login_required
def inbox_thumbnail(request: HttpRequest, sent_id: int, pk: int) -> HttpResponseBase:
    attachment = readable_attachment(request.user, person(request).records, sent_id, pk)
    if attachment is None or not attachment.is_image:
        raise Http404
    return thumbnail_response(attachment)


@staff_required
@require_POST
def inbox_invite(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    """Staff: link a recipient record to an account and email it a set-password link."""
    record = find_visible(label, pk, request.user)
    if record is None:
        raise Http404  # an unknown model, nobody you may see, or not even an id
    if not may_invite(request.user, type(record)):
        messages.error(request, _("You may not invite recipients to read their messages online."))
    else:
        try:
            user = invite(record, request.build_absolute_uri("/"))
        except InviteError as exc:
            messages.error(request, str(exc))
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("Invitation for %s %s not sent: %s", label, pk, exc)
            messages.error(request, _("The account is ready, but the invitation could not be sent (%(error)s). "
                                      "Try again later.") % {"error": exc})
        else:
            messages.success(request, _("Invitation sent to %(address)s.") % {"address": user.email or record.get_email})
    return redirect("sender:recipient_history", label=label, pk=pk)
