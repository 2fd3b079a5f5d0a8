"""The dashboard: pick recipients, compose, preview, send."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..api.scheduling import schedule
from ..api.templating import examples, saved_templates
from ..attachments import KINDS, store_attachment
from ..conf import sender_settings
from ..exceptions import IdempotencyConflict, SelectionError
from ..forms import ComposeForm, CounterForm
from ..methods import methods
from ..methods.sms_text import analyze
from ..permissions import can_send
from ..pipeline import commit, preview
from ..recipients.registry import recipient_models
from .picker import tab

TELEGRAM_MAX = 4096


def sender_required(view):
    """Logged in and allowed to send; others get a polite page, never a traceback."""
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_send(request.user):
            return render(request, "sender/not_allowed.html", status=403)
        return view(request, *args, **kwargs)
    return wrapper


def limits() -> dict:
    return {"max_bytes": sender_settings.ATTACHMENT_MAX_BYTES,
            "max_size": filesizeformat(sender_settings.ATTACHMENT_MAX_BYTES),
            "extensions": sorted(KINDS)}


@sender_required
def compose(request: HttpRequest) -> HttpResponse:
    form = ComposeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("send_at"):
                scheduled, _preview = schedule(data["selection"], request.user, data["methods"], form.draft(),
                                               data["send_at"], data["idempotency_key"], typology=data["typology"])
                messages.success(request, _("Scheduled: it will be sent at the time you chose."))
                return redirect(scheduled)
            broadcast = commit(data["selection"], request.user, data["methods"], form.draft(),
                               data["idempotency_key"], typology=data["typology"])
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
    }, status=status)


@sender_required
@require_POST
def preview_view(request: HttpRequest) -> HttpResponse:
    form = ComposeForm(request.POST, user=request.user)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = preview(data["selection"], request.user, data["methods"], form.draft())
        except SelectionError as exc:
            form.add_error(None, exc.errors)
    return render(request, "sender/_preview.html", {"form": form, "preview": result,
                                                    "examples": examples(result, form.draft()) if result else []})


@login_required
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
