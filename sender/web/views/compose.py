"""The dashboard: pick recipients, compose, preview, send."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sender.access import inbox_for_recipients, sender_required, staff_required
from sender.attachments import KINDS, store_attachment
from sender.audience.people import people
from sender.audience.registry import recipient_models
from sender.audience.saved import listed
from sender.channels import methods
from sender.channels.sms.text import analyze
from sender.conf import sender_settings
from sender.direct.myself import send_test
from sender.exceptions import IdempotencyConflict, SelectionError
from sender.pipeline.commit import commit
from sender.pipeline.preview import Preview, preview
from sender.pipeline.scheduling import schedule
from sender.pipeline.templates import examples, saved_templates
from sender.web.forms import CounterForm, DashboardComposeForm, SendTestForm
from sender.web.views.billees import billee_choices
from sender.web.views.picker import tab

TELEGRAM_MAX = 4096


def limits() -> dict:
    return {"max_bytes": sender_settings.ATTACHMENT_MAX_BYTES,
            "max_size": filesizeformat(sender_settings.ATTACHMENT_MAX_BYTES),
            "extensions": sorted(KINDS)}


@inbox_for_recipients
@sender_required
def compose(request: HttpRequest) -> HttpResponse:
    form = DashboardComposeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("send_at"):
                scheduled, _preview = schedule(data["selection"], request.user, data["methods"], form.draft(),
                                               data["send_at"], data["idempotency_key"], typology=data["typology"],
                                               billee=data["billee"])
                messages.success(request, _("Scheduled: it will be sent at the time you chose."))
                return redirect(scheduled)
            broadcast = commit(data["selection"], request.user, data["methods"], form.draft(),
                               data["idempotency_key"], typology=data["typology"], billee=data["billee"])
        except IdempotencyConflict:
            form.add_error(None, _("This form was already sent with different content. "
                                   "Reload the page to send a new message."))
        except (SelectionError, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "errors", [str(exc)]))
        else:
            messages.success(request, _("Your message is on its way."))
            return redirect(broadcast)
    tabs = [tab(model, request.user) for model in recipient_models().values()]
    status = 400 if form.errors else 200
    return render(request, "sender/compose.html", {
        "form": form, "tabs": tabs, "limits": limits(), "method_objects": [(alias, methods[alias]) for alias in methods],
        "message_templates": saved_templates(), "time_zone": timezone.get_current_timezone_name(),
        "audiences": listed(request.user), "billing": billee_choices(request.user, current=form["billee"].value()),
    }, status=status)


@sender_required
@require_POST
def preview_view(request: HttpRequest) -> HttpResponse:
    form = DashboardComposeForm(request.POST, user=request.user)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = preview(data["selection"], request.user, data["methods"], form.draft())
        except SelectionError as exc:
            form.add_error(None, exc.errors)
    return render(request, "sender/_preview.html", {"form": form, "preview": result,
                                                    "rejections": rejections(result) if result else [],
                                                    "examples": examples(result, form.draft()) if result else []})


def rejections(result: Preview) -> list[dict]:
    """Per method, who will not receive it and why: the person beside the address (one
    query per recipient model for every method's sample together)."""
    found = people((r.content_type_id, r.object_id) for m in result.methods for r in m.rejected)
    return [{"label": m.label, "count": m.duplicate + m.invalid,
             "rows": [{"row": r, "person": found.get((r.content_type_id, r.object_id))} for r in m.rejected]}
            for m in result.methods if m.rejected]


@sender_required
@require_POST
def send_test_view(request: HttpRequest) -> HttpResponse:
    """Send the draft to the staff member themself, on each chosen method; say where it went."""
    form = SendTestForm(request.POST, user=request.user)
    results = send_test(request.user, form.draft(), form.cleaned_data["methods"]) if form.is_valid() else []
    return render(request, "sender/_test_result.html", {"form": form, "results": results})


@staff_required
@require_POST
def counter(request: HttpRequest) -> HttpResponse:
    form = CounterForm(request.POST)
    body = form.cleaned_data["body"] if form.is_valid() else ""
    return render(request, "sender/_counter.html", {
        "chars": len(body), "sms": analyze(body), "telegram_max": TELEGRAM_MAX,
        "telegram_over": len(body) > TELEGRAM_MAX,
    })


@sender_required
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    files = request.FILES.getlist("file")
    if len(files) != 1:
        return JsonResponse({"error": _("Send one file at a time.")}, status=400)
    try:
        attachment = store_attachment(files[0], request.user)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({
        "id": attachment.pk, "name": attachment.name, "size": filesizeformat(attachment.size),
        "content_type": attachment.content_type,
        "thumbnail": reverse("sender:thumbnail", args=[attachment.pk]) if attachment.is_image else None,
    }, status=201)
