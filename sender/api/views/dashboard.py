"""Dashboard pages of the API app: API tokens, and scheduled broadcasts (list, edit, cancel)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ...exceptions import SelectionError
from ...methods import Draft
from ...views.access import staff_required
from .. import scheduling
from ..forms import ScheduleForm, TokenForm
from ..templating import PLACEHOLDERS
from ..tokens import create_token, revoke


@staff_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """Staff make and revoke their own tokens; a new token's secret is shown on this response only."""
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        token, secret = create_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    return render(request, "sender_api/tokens.html", {
        "form": form, "secret": secret, "tokens": request.user.api_tokens.all(),
    }, status=400 if form.errors else 200)


@staff_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    revoke(token)
    messages.success(request, _("The token “%(name)s” no longer works.") % {"name": token.name})
    return redirect("sender_api:tokens")


@staff_required
def schedules(request: HttpRequest) -> HttpResponse:
    found = scheduling.visible_schedules(request.user).select_related("sender", "broadcast")
    return render(request, "sender_api/schedules.html", {
        "upcoming": found.filter(status=scheduling.Status.SCHEDULED),
        "past": found.exclude(status=scheduling.Status.SCHEDULED).order_by("-send_at")[:50],
        "time_zone": timezone.get_current_timezone_name(),
    })


@staff_required
def schedule(request: HttpRequest, pk: int) -> HttpResponse:
    scheduled = get_object_or_404(scheduling.visible_schedules(request.user).select_related("sender"), pk=pk)
    may_change = scheduled.editable and scheduling.may_change(request.user, scheduled)
    form = ScheduleForm(request.POST or None, instance=scheduled) if may_change else None
    if request.method == "POST" and form is not None and form.is_valid():
        data = form.cleaned_data
        draft = Draft(body=data["body"], subject=data["subject"], attachments=tuple(scheduled.attachments.all()),
                      transliterate=scheduled.transliterate)
        try:
            scheduling.update(scheduled, request.user, draft=draft, send_at=data["send_at"])
        except (SelectionError, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "errors", [str(exc)]))
        else:
            messages.success(request, _("The scheduled broadcast was changed."))
            return redirect(scheduled)
    return render(request, "sender_api/schedule.html", {
        "scheduled": scheduled, "form": form, "may_change": may_change, "placeholders": PLACEHOLDERS,
        "time_zone": timezone.get_current_timezone_name(),
    }, status=400 if form is not None and form.errors else 200)


@staff_required
@require_POST
def schedule_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    scheduled = get_object_or_404(scheduling.visible_schedules(request.user), pk=pk)
    try:
        cancelled = scheduling.cancel(scheduled, request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        if cancelled:
            messages.success(request, _("Cancelled: it will not be sent."))
        else:
            messages.error(request, _("It has already started; cancel the broadcast itself."))
    return redirect(scheduled)
