"""The recipients' inbox: list, read, mark all read, unread count, private attachments.

Thin: the person, the queries and the access checks are in sender/inbox/.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from ..inbox import live
from ..inbox.context import person
from ..inbox.files import file_response, readable_attachment, thumbnail_response
from ..inbox.filters import InboxFilterSet
from ..inbox.messages import entries, find_message, mark_all_read, mark_read, message_ids, received
from ..models import MessageRecipient

PAGE_SIZE = 20


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    me = person(request)
    rows = received(me.records) if me.records else MessageRecipient.objects.none()
    filterset = InboxFilterSet(request.GET, queryset=rows)
    filtered = filterset.qs if filterset.is_valid() else rows.none()
    page = Paginator(message_ids(filtered), PAGE_SIZE).get_page(request.GET.get("page"))
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
