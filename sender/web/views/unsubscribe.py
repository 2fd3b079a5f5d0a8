"""The unsubscribe link in every email: a page that confirms, and the one-click POST of
RFC 8058 that mail providers send for List-Unsubscribe-Post."""

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sender.audience.models import OptOut
from sender.audience.optout import opt_out, read_token
from sender.channels import methods


@csrf_exempt  # Mail providers POST here without a session; the signed token is the proof, not a cookie.
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners must not unsubscribe anyone); POST opts the address out."""
    try:
        method, address = read_token(token)
    except signing.BadSignature:
        return render(request, "sender/unsubscribe.html", {"invalid": True}, status=400)
    label = methods[method].label if method in methods.settings else method
    context = {"address": address, "method": label}
    if request.method == "POST":
        opt_out(method, address, source=OptOut.Source.LINK)
        return render(request, "sender/unsubscribe.html", {**context, "done": True})
    return render(request, "sender/unsubscribe.html", context)
