"""Health endpoint for load balancers and monitoring: the database, the channel layer
(Redis when configured) and the task queue. No login: it says nothing about any message."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sender.operations import health


@never_cache
@require_GET
def health_view(request) -> JsonResponse:
    """200 with {"status": "ok"} when every check passes, 503 naming what failed."""
    checks = health()
    ok = all(c.ok for c in checks)
    body = {
        "status": "ok" if ok else "fail",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail, **c.data} for c in checks},
    }
    return JsonResponse(body, status=200 if ok else 503)
