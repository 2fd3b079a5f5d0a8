"""Saved audiences on the compose page: list, save the current selection, load, rename,
delete. JSON in and out, for the picker's script; the rules live in sender.audience.saved."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sender.access import sender_required
from sender.audience.models import Audience
from sender.audience.saved import delete_audience, listed, loaded, rename_audience, save_audience
from sender.audience.selection import Selection
from sender.exceptions import SelectionError
from sender.inputs import InputError, loads


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _refusal(exc: Exception) -> JsonResponse:
    if isinstance(exc, PermissionDenied):
        return _error(str(exc), 403)
    messages = getattr(exc, "messages", None) or getattr(exc, "errors", None) or [str(exc)]
    return _error(" ".join(str(m) for m in messages))


@sender_required
@require_http_methods(["GET", "POST"])
def audiences(request: HttpRequest) -> JsonResponse:
    """GET: every saved audience. POST (name, selection, described): save the current selection."""
    if request.method == "GET":
        return JsonResponse({"audiences": listed(request.user)})
    try:
        selection = Selection.parse(loads(request.POST.get("selection") or "{}"))
        described = loads(request.POST.get("described") or "{}")
        audience, created = save_audience(request.POST.get("name", ""), selection, request.user,
                                          described if isinstance(described, dict) else {})
    except InputError:
        return _error(_("The selection could not be read; reload the page."))
    except (SelectionError, ValidationError) as exc:
        return _refusal(exc)
    message = (_("Saved as “%(name)s”.") if created else _("“%(name)s” now holds this selection.")) % {"name": audience.name}
    return JsonResponse({"id": audience.pk, "name": audience.name, "message": message,
                         "audiences": listed(request.user)}, status=201 if created else 200)


@sender_required
@require_GET
def audience(request: HttpRequest, pk: int) -> JsonResponse:
    """One audience, ready for the picker, its filters counted again for this user."""
    found = get_object_or_404(Audience, pk=pk)
    try:
        return JsonResponse(loaded(found, request.user))
    except SelectionError as exc:
        return _error(_("“%(name)s” cannot be used any more: %(why)s")
                      % {"name": found.name, "why": " ".join(str(e) for e in exc.errors)}, 409)


@sender_required
@require_POST
def audience_rename(request: HttpRequest, pk: int) -> JsonResponse:
    found = get_object_or_404(Audience, pk=pk)
    try:
        rename_audience(found, request.POST.get("name", ""), request.user)
    except (PermissionDenied, ValidationError) as exc:
        return _refusal(exc)
    return JsonResponse({"id": found.pk, "name": found.name, "message": _("Renamed to “%(name)s”.") % {"name": found.name},
                         "audiences": listed(request.user)})


@sender_required
@require_POST
def audience_delete(request: HttpRequest, pk: int) -> JsonResponse:
    found = get_object_or_404(Audience, pk=pk)
    name = found.name
    try:
        delete_audience(found, request.user)
    except PermissionDenied as exc:
        return _refusal(exc)
    return JsonResponse({"message": _("“%(name)s” was deleted.") % {"name": name}, "audiences": listed(request.user)})
