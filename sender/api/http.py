"""The API's HTTP conventions: token authentication, JSON in and out, errors as JSON.

Only a bearer token authenticates here, never the session cookie: that is why API views
may be exempt from CSRF (a cross-site page cannot make a browser send the token).
"""

import re
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from sender.api.contract import problems
from sender.api.schema import IDEMPOTENCY, openapi, operation
from sender.api.tokens import authenticate
from sender.exceptions import InvalidFilter, SelectionError
from sender.inputs import InputError, loads

INTEGER = re.compile(r"-?[0-9]+")


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
            except InvalidFilter as exc:  # the filter string breaks its model's filter
                return error_response(400, exc.errors)
            except SelectionError as exc:  # well formed, but it cannot be done
                return error_response(422, exc.errors)
            except PermissionDenied as exc:
                return error_response(403, [str(exc) or _("You are not allowed to do this.")])
            except Http404:
                return error_response(404, [_("Not found.")])
            except RequestDataTooBig:
                return error_response(413, [_("The request is too large.")])
            except (MultiPartParserError, SuspiciousOperation):  # no boundary, too many fields or files
                return error_response(400, [_("The request body could not be read.")])
        return wrapper
    return decorator


def check(value: Any, schema: dict[str, Any], name: str = "") -> None:
    """ApiError(400) with every way `value` breaks `schema`."""
    messages, fields = problems(value, schema, name)
    if messages:
        raise ApiError(400, messages, fields=fields)


def _number(text: str) -> float | int:
    """JSON has one kind of number, and JSON Schema counts 5.0 as an integer: so does the API."""
    value = float(text)
    return int(value) if value.is_integer() else value


def json_body(request: HttpRequest, schema: str) -> dict:
    """The request's JSON object, checked against `schema` (a component of the OpenAPI document);
    415 if it is not JSON, 400 with every problem if it does not follow the schema."""
    if request.content_type != "application/json":
        raise ApiError(415, _("Send JSON with “Content-Type: application/json”."))
    try:
        data = loads(request.body or b"", parse_float=_number)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError(400, _("The request body must be a JSON object."))
    components = openapi()["components"]
    check(data, {**components["schemas"][schema], "components": components})
    return data


def query(request: HttpRequest, operation_id: str) -> dict[str, Any]:
    """The operation's documented query parameters, converted and checked against their schemas
    (400 for a wrong type, a value out of range, or a parameter given twice). An unknown one is
    a 400 too, as an unknown field of a body is: a misspelt filter (`?orign=test`) must not
    quietly answer with the unfiltered list."""
    parameters = [p for p in operation(operation_id).get("parameters", []) if p["in"] == "query"]
    if unknown := sorted(set(request.GET) - {p["name"] for p in parameters}):
        raise ApiError(400, _("Unknown query parameters: %(names)s.") % {"names": ", ".join(unknown)})
    found: dict[str, Any] = {}
    for parameter in parameters:
        name, schema = parameter["name"], parameter["schema"]
        if name not in request.GET:
            continue
        values = request.GET.getlist(name)
        if len(values) != 1:
            raise ApiError(400, _("Give “%(name)s” once.") % {"name": name})
        value: Any = values[0]
        if schema.get("type") == "integer":
            if not INTEGER.fullmatch(value):
                raise ApiError(400, _("“%(name)s” must be a whole number.") % {"name": name})
            value = int(value)
        check(value, schema, name)
        found[name] = value
    return found


def next_page(request: HttpRequest, cursor: str, value: int) -> str:
    """The absolute URL of the following page: this request's query with `cursor` set to `value`."""
    following = request.GET.copy()
    following[cursor] = value
    return request.build_absolute_uri(f"{request.path}?{following.urlencode()}")


def idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise ApiError(400, _("Send an “Idempotency-Key” header: any unique string per send, reused when you retry."))
    check(key, IDEMPOTENCY["schema"], "Idempotency-Key")
    return key


@endpoint("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v1/ (an id that is not one, a typo): a JSON 404, not a page
    (401 first without a token, as everywhere in the API)."""
    return error_response(404, [_("Not found.")])
