"""The API's HTTP conventions: token authentication, JSON in and out, errors as JSON.

Only a bearer token authenticates here, never the session cookie: that is why API views
may be exempt from CSRF (a cross-site page cannot make a browser send the token).
"""

import json
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from sender.api.tokens import authenticate
from sender.exceptions import SelectionError


class ApiError(Exception):
    def __init__(self, status: int, errors: list[str] | str, fields: dict | None = None):
        self.status = status
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.fields = fields or {}
        super().__init__("; ".join(map(str, self.errors)))


def error_response(status: int, errors: list, fields: dict | None = None) -> JsonResponse:
    body: dict[str, Any] = {"errors": [str(e) for e in errors]}
    if fields:
        body["fields"] = {name: [str(e) for e in errs] for name, errs in fields.items()}
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="sender"'
    return response


def endpoint(*methods: str, auth: bool = True):
    """An API view: allowed HTTP methods, a token-authenticated `request.user`, and every
    expected failure turned into a JSON error with the right status (never a 500)."""
    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method not in methods:
                response = error_response(405, [_("Use %(methods)s here.") % {"methods": ", ".join(methods)}])
                response["Allow"] = ", ".join(methods)
                return response
            if auth:
                user = authenticate(request.headers.get("Authorization", ""))
                if user is None:
                    return error_response(401, [_("Send a valid API token: “Authorization: Bearer <token>”.")])
                request.user = user
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.errors, exc.fields)
            except SelectionError as exc:
                return error_response(400, exc.errors)
            except PermissionDenied as exc:
                return error_response(403, [str(exc) or _("You are not allowed to do this.")])
            except Http404:
                return error_response(404, [_("Not found.")])
            except RequestDataTooBig:
                return error_response(413, [_("The request is too large.")])
        return wrapper
    return decorator


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object, or a 400/415 that says what is wrong with it."""
    if request.content_type != "application/json":
        raise ApiError(415, _("Send JSON with “Content-Type: application/json”."))
    try:
        data = json.loads(request.body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, _("The request body is not valid JSON: %(error)s") % {"error": exc}) from None
    if not isinstance(data, dict):
        raise ApiError(400, _("The request body must be a JSON object."))
    return data


def idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(400, _("Send an “Idempotency-Key” header: any unique string per send, reused when you retry."))
    if len(key) > 255:
        raise ApiError(400, _("The Idempotency-Key header may be at most 255 characters."))
    return key
