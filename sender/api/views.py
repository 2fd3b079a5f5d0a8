"""The JSON API (/api/v1/): thin views over the same pipeline, permissions and visibility
as the dashboard. Documented in schema.py, served at /api/v1/openapi.json."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from sender.access import CANCEL_REFUSAL, RESUME_REFUSAL, may_manage, visible_broadcasts
from sender.api.http import ApiError, endpoint, idempotency_key, json_body, next_page, query
from sender.api.payloads import (
    FORMAT_NAMES,
    attachment_json,
    audience_json,
    broadcast_json,
    compose_form,
    preview_json,
    read_message,
    row_json,
    schedule_json,
    send_at,
    template_json,
)
from sender.api.schema import BROADCASTS_PAGE, openapi
from sender.attachments import store_attachment
from sender.audience.billees import named_billee
from sender.audience.models import Audience
from sender.conf import sender_settings
from sender.models import Broadcast, MessageRecipient
from sender.permissions import can_send
from sender.pipeline import scheduling
from sender.pipeline.cancel import cancel
from sender.pipeline.commit import commit
from sender.pipeline.models import MessageTemplate
from sender.pipeline.pause import resume_broadcast
from sender.pipeline.preview import preview

UPLOAD_OVERHEAD = 64 * 1024  # multipart headers and boundaries around the one file


def require_send(request: HttpRequest) -> None:
    if not can_send(request.user):
        raise PermissionDenied(_("You do not have permission to send messages."))


def _broadcasts(request: HttpRequest) -> QuerySet[Broadcast]:
    return visible_broadcasts(request.user).select_related("sender").prefetch_related("sents", "attachments")


def _broadcast(request: HttpRequest, pk: int) -> Broadcast:
    return get_object_or_404(_broadcasts(request), pk=pk)


def _managed(request: HttpRequest, pk: int, refusal: str | Promise) -> Broadcast:
    """A broadcast the user sees and may act on (cancel, resume): `refusal` (403) for one they
    only see, as on its dashboard page."""
    found = _broadcast(request, pk)
    if not may_manage(request.user, found):
        raise PermissionDenied(str(refusal))
    return found


@endpoint("GET", auth=False)
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi(request.build_absolute_uri("/").rstrip("/")))


@endpoint("POST")
def preview_view(request: HttpRequest) -> JsonResponse:
    require_send(request)
    message = read_message(json_body(request, "Message"), request.user)
    draft = message.draft()
    checked = preview(message.selection, request.user, message.methods, draft)
    return JsonResponse(preview_json(checked, draft, message.echo()))


@endpoint("GET", "POST")
def broadcasts(request: HttpRequest) -> JsonResponse:
    return broadcast_list(request) if request.method == "GET" else broadcast_create(request)


def broadcast_list(request: HttpRequest) -> JsonResponse:
    """Visible broadcasts, newest first, a page at a time (`before` = the last id seen). Like
    History, only broadcasts unless `origin` asks for test sends or chat replies."""
    params = query(request, "listBroadcasts")
    limit = params.get("limit", BROADCASTS_PAGE)
    origin = params.get("origin", Broadcast.Origin.BROADCAST)
    found = _broadcasts(request).prefetch_related("billee").filter(origin=origin)
    if "before" in params:
        found = found.filter(pk__lt=params["before"])
    page = list(found.order_by("-pk")[: limit + 1])
    return JsonResponse({"results": [broadcast_json(b, request) for b in page[:limit]],
                         "next": next_page(request, "before", page[limit - 1].pk) if len(page) > limit else None})


def broadcast_create(request: HttpRequest) -> JsonResponse:
    """Create and queue a broadcast; the same Idempotency-Key with the same request returns the
    same broadcast (200), with a different request a 422."""
    require_send(request)
    key = scheduling.scoped_key(request.user, idempotency_key(request))
    payload = json_body(request, "Message")
    existed = Broadcast.objects.filter(idempotency_key=key).exists()
    message = read_message(payload, request.user, key)
    # Always off the request: the answer is the broadcast "preparing"; GET it to follow it.
    broadcast = commit(message.selection, request.user, message.methods, message.draft(), key,
                       typology=message.typology, background=True, billee=message.billee)
    response = JsonResponse(broadcast_json(_broadcast(request, broadcast.pk), request), status=200 if existed else 201)
    response["Location"] = reverse("sender_api:broadcast", args=[broadcast.pk])
    return response


@endpoint("GET")
def broadcast(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(broadcast_json(_broadcast(request, pk), request))


@endpoint("GET")
def broadcast_recipients(request: HttpRequest, pk: int) -> JsonResponse:
    """Recipient rows in id order, a page at a time (`after` = the last id seen)."""
    params = query(request, "listRecipients")
    found = _broadcast(request, pk)
    methods = {sent.pk: sent.method for sent in found.sents.all()}
    limit = params.get("limit", 100)
    rows = MessageRecipient.objects.filter(message_sent_id__in=list(methods), pk__gt=params.get("after", 0))
    rows = rows.order_by("pk")
    if status := params.get("status"):
        rows = rows.filter(status=status)
    if method := params.get("method"):
        rows = rows.filter(message_sent_id__in=[i for i, m in methods.items() if m == method])
    page = list(rows[: limit + 1])
    return JsonResponse({"results": [row_json(row, methods) for row in page[:limit]],
                         "next": next_page(request, "after", page[limit - 1].pk) if len(page) > limit else None})


@endpoint("POST")
def broadcast_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    found = _managed(request, pk, CANCEL_REFUSAL)
    n = cancel(found, request.user)
    return JsonResponse({"cancelled": n, "broadcast": broadcast_json(_broadcast(request, pk), request)})


@endpoint("POST")
def broadcast_resume(request: HttpRequest, pk: int) -> JsonResponse:
    found = _managed(request, pk, RESUME_REFUSAL)
    resumed = resume_broadcast(found, request.user)
    if not resumed:
        raise ApiError(409, _("Nothing of this broadcast is paused."))
    return JsonResponse({"resumed": resumed, "broadcast": broadcast_json(_broadcast(request, pk), request)})


@endpoint("POST")
def attachments(request: HttpRequest) -> JsonResponse:
    """One file per request, as multipart/form-data field “file”; checked as on the dashboard."""
    require_send(request)
    limit = sender_settings.ATTACHMENT_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + UPLOAD_OVERHEAD:
        raise ApiError(413, _("The file is too large: at most %(n)d bytes.") % {"n": limit})
    if request.content_type != "multipart/form-data":
        raise ApiError(415, _("Upload the file as multipart/form-data, in a field named “file”."))
    if unknown := sorted((set(request.POST) | set(request.FILES)) - {"file"}):
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)})
    files = request.FILES.getlist("file")
    if len(files) != 1:
        raise ApiError(400, _("Send one file at a time, in a field named “file”."))
    try:
        attachment = store_attachment(files[0], request.user)
    except ValidationError as exc:
        raise ApiError(413 if exc.code == "too_large" else 422, exc.messages) from None
    return JsonResponse(attachment_json(attachment), status=201)


@endpoint("GET")
def templates(request: HttpRequest) -> JsonResponse:
    require_send(request)
    params = query(request, "listTemplates")
    found = MessageTemplate.objects.select_related("typology")
    if "typology" in params:
        found = found.filter(typology_id=params["typology"])
    return JsonResponse({"results": [template_json(t) for t in found]})


@endpoint("GET")
def audiences(request: HttpRequest) -> JsonResponse:
    """Every saved audience (they are shared by all senders), by name. Read-only: they are
    saved, renamed and deleted on the compose page."""
    require_send(request)
    return JsonResponse({"results": [audience_json(a) for a in Audience.objects.select_related("owner")]})


@endpoint("GET")
def audience(request: HttpRequest, pk: int) -> JsonResponse:
    require_send(request)
    return JsonResponse(audience_json(get_object_or_404(Audience.objects.select_related("owner"), pk=pk)))


@endpoint("POST")
def schedules(request: HttpRequest) -> JsonResponse:
    require_send(request)
    key = scheduling.scoped_key(request.user, idempotency_key(request), scope="schedule")
    payload = json_body(request, "ScheduledMessage")
    form = compose_form(payload, request.user, key)
    data, draft = form.cleaned_data, form.draft()
    billee = named_billee(payload.get("billee"), request.user)  # checked as a send's and the dashboard's
    scheduled, checked = scheduling.schedule(data["selection"], request.user, data["methods"], draft,
                                             send_at(payload), key, typology=data["typology"], billee=billee)
    body = schedule_json(scheduled, request)
    if checked is not None:
        body["preview"] = preview_json(checked, draft)
    response = JsonResponse(body, status=201 if checked is not None else 200)
    response["Location"] = reverse("sender_api:schedule_api", args=[scheduled.pk])
    return response


@endpoint("GET", "PATCH")
def schedule(request: HttpRequest, pk: int) -> JsonResponse:
    scheduled = get_object_or_404(scheduling.visible_schedules(request.user), pk=pk)
    if request.method == "PATCH":
        require_send(request)
        payload = json_body(request, "ScheduleChange")
        current = {"selection": scheduled.selection, "methods": scheduled.methods, "typology": scheduled.typology_id,
                   "subject": scheduled.subject, "body": scheduled.body, "transliterate": scheduled.transliterate,
                   "body_format": FORMAT_NAMES.get(scheduled.body_format, "text"),
                   "attachments": [a.pk for a in scheduled.attachments.all()]}
        form = compose_form(payload, request.user, current=current)
        data = form.cleaned_data
        # Absent: the billee stays; null: nobody; named: checked as on creation.
        billee = named_billee(payload["billee"], request.user) if "billee" in payload else False
        try:
            scheduled = scheduling.update(scheduled, request.user, selection=data["selection"],
                                          method_aliases=data["methods"], draft=form.draft(),
                                          send_at=send_at(payload), typology=data["typology"], billee=billee)
        except scheduling.NotEditable as exc:
            raise ApiError(409, exc.errors) from None
    return JsonResponse(schedule_json(scheduled, request))


@endpoint("POST")
def schedule_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    scheduled = get_object_or_404(scheduling.visible_schedules(request.user), pk=pk)
    if not scheduling.cancel(scheduled, request.user):
        raise ApiError(409, _("This broadcast has already started or was cancelled."))
    scheduled.refresh_from_db()
    return JsonResponse(schedule_json(scheduled, request))
