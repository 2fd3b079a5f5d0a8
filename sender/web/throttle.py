"""Login throttling: after too many failed attempts for one username (or from one client
address) within a window, further attempts are refused without checking the password.

Counts live in the cache, so with several servers use a shared cache (settings: REDIS_URL
makes CACHES Redis). SENDER["LOGIN_ATTEMPTS"] failures per username and
SENDER["LOGIN_ATTEMPTS_PER_IP"] per client address within SENDER["LOGIN_WINDOW_SECONDS"].
Behind a proxy every client has the proxy's address: set SENDER["LOGIN_CLIENT_IP_HEADER"]
to the header your proxy sets (e.g. "HTTP_X_REAL_IP").
"""

import hashlib
import logging

from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from sender.conf import sender_settings

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    header = sender_settings.LOGIN_CLIENT_IP_HEADER
    value = request.META.get(header, "") if header else ""
    return value.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")


def _keys(request: HttpRequest) -> dict[str, tuple[str, int]]:
    """Cache key → limit, for the username tried and the client address."""
    username = request.POST.get("username", "").strip().lower()
    digest = hashlib.sha256(username.encode()).hexdigest()[:32]  # any text fits a cache key
    keys = {f"sender:login-fail:ip:{client_ip(request)}": sender_settings.LOGIN_ATTEMPTS_PER_IP}
    if username:
        keys[f"sender:login-fail:user:{digest}"] = sender_settings.LOGIN_ATTEMPTS
    return keys


def blocked(request: HttpRequest) -> bool:
    counts = cache.get_many(list(_keys(request)))
    return any(counts.get(key, 0) >= limit for key, limit in _keys(request).items())


def record_failure(request: HttpRequest) -> None:
    window = sender_settings.LOGIN_WINDOW_SECONDS
    for key in _keys(request):
        if not cache.add(key, 1, window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, window)


def clear_user(request: HttpRequest) -> None:
    cache.delete_many([key for key in _keys(request) if ":user:" in key])


class ThrottledLoginView(LoginView):
    """Django's login view, refusing attempts (429) once the limits are reached."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if blocked(request):
            logger.warning("login throttled", extra={"ip": client_ip(request)})
            message = _("Too many failed attempts. Wait %(minutes)d minutes and try again.") % {
                "minutes": max(1, sender_settings.LOGIN_WINDOW_SECONDS // 60)}
            # An unbound form: a bound one would check the password while validating.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            return self.render_to_response(self.get_context_data(form=form, throttled=message), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            clear_user(request)
        else:
            record_failure(request)
        return response
