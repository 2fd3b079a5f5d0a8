"""Scheduled broadcasts: list, change, cancel."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sender.access import staff_required
from sender.audience.placeholders import PLACEHOLDERS
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.pipeline import scheduling
from sender.web.forms import ScheduleForm


@staff_required
def schedules(request: HttpRequest) -> HttpResponse:
    # Billees by name: one query per billee model on the page, not one per row.
    found = scheduling.visible_schedules(request.user).select_related("sender", "broadcast").prefetch_related("billee")
    return render(request, "sender/schedules.html", {
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
                      transliterate=scheduled.transliterate, format=scheduled.body_format)
        try:
            scheduling.update(scheduled, request.user, draft=draft, send_at=data["send_at"])
        except (SelectionError, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "errors", [str(exc)]))
        else:
            messages.success(request, _("The scheduled broadcast was changed."))
            return redirect(scheduled)
    return render(request, "sender/schedule.html", {
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
