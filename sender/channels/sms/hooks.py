"""Push receipts and replies: `/hooks/sms/<gateway>/status/` and `/incoming/`.

Each gateway has its own secret (`push_secret_env`), carried as `?key=` or as an HMAC of the
body (`X-Sender-Signature: sha256=…`), compared in constant time: anything else gets 403 and
writes nothing. Parsed by the gateway's field names and status mapping."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sender.channels.sms import gateways
from sender.channels.sms.http_gateway import parse_push
from sender.channels.sms.incoming import store_incoming
from sender.channels.sms.models import SmsGateway


def _gateway(request: HttpRequest, name: str) -> SmsGateway | None:
    gateway = SmsGateway.objects.filter(name=name, enabled=True).first()
    if gateway is None or not gateways.verify(gateway, request.GET.get("key", ""),
                                              request.headers.get("X-Sender-Signature", ""), request.body):
        return None
    return gateway


def _fields(request: HttpRequest, fields: dict) -> dict[str, str]:
    params = {k: v for k, v in request.GET.items() if k != "key"}
    if "json" not in (request.content_type or ""):
        params.update(request.POST.items())
    return parse_push(fields or {}, request.content_type or "", request.body, params)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def status(request: HttpRequest, gateway: str) -> HttpResponse:
    """A delivery report (Vonage may send it as GET)."""
    found = _gateway(request, gateway)
    if found is None:
        return HttpResponseForbidden("Forbidden")
    fields = _fields(request, found.status_push)
    if not fields.get("id") or not fields.get("status"):
        return HttpResponseBadRequest("No message id or state")
    gateways.receive_status(found, fields["id"], fields["status"], fields.get("to", ""))
    return HttpResponse("OK")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def incoming(request: HttpRequest, gateway: str) -> HttpResponse:
    """A reply: stored once by its id, linked to whoever last got an SMS from that number."""
    found = _gateway(request, gateway)
    if found is None:
        return HttpResponseForbidden("Forbidden")
    message = gateways.received(_fields(request, found.incoming_push))
    if message is None:
        return HttpResponseBadRequest("No id, sender or text")
    store_incoming(found.method, [message])
    return HttpResponse("OK")
