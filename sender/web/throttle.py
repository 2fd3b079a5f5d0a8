"""Throttling of the account doors: login and password reset.

Login: after too many failed attempts for one username (or from one client address) within a
window, further attempts are refused (429) without checking the password. The username is
counted as authentication reads it: Django's login form folds it with NFKC (`ｓally`, `ſally`
and `saℓly` all log in as `sally`), so the counter does too, and then casefolds it.

Password reset: a few mails per mailbox and per client address within a window; past that
the page answers exactly as usual and sends nothing, so it tells nobody anything.

Counts live in the cache, so with several servers use a shared cache (settings: REDIS_URL
makes CACHES Redis). Limits: SENDER["LOGIN_ATTEMPTS"] per username and
SENDER["LOGIN_ATTEMPTS_PER_IP"] per address within SENDER["LOGIN_WINDOW_SECONDS"];
SENDER["PASSWORD_RESETS"] per mailbox and SENDER["PASSWORD_RESETS_PER_IP"] per address within
SENDER["PASSWORD_RESET_WINDOW_SECONDS"].

Behind a proxy every client has the proxy's address: set SENDER["LOGIN_CLIENT_IP_HEADER"] to a
header the proxy writes. X-Real-IP (nginx `proxy_set_header X-Real-IP $remote_addr`) holds one
address that the proxy overwrites. X-Forwarded-For is appended to, so everything left of the
proxies' own entries is the client's to invent: the address used is the one the first trusted
proxy added, SENDER["LOGIN_TRUSTED_PROXIES"] entries from the right (1: the rightmost).
"""

import hashlib
import ipaddress
import logging
import unicodedata

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from sender.conf import sender_settings

logger = logging.getLogger(__name__)


def caseless(text: str) -> str:
    """`text` as Unicode's caseless identifier match compares it: NFKC, casefold, NFKC."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def login_name(raw: str) -> str:
    """The username as the login form hands it to authentication (UsernameField: stripped,
    NFKC), casefolded so that every spelling of one name shares one counter."""
    return caseless(UsernameField().to_python(raw) or "")


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry the trusted proxy wrote in the
    configured header (see the module's docstring); REMOTE_ADDR when that is not an address."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = sender_settings.LOGIN_CLIENT_IP_HEADER
    entries = [e.strip() for e in request.META.get(header, "").split(",") if e.strip()] if header else []
    trusted = max(1, sender_settings.LOGIN_TRUSTED_PROXIES)
    if len(entries) < trusted:  # not written by every trusted proxy: nothing in it can be trusted
        return remote
    try:
        return str(ipaddress.ip_address(entries[-trusted]))
    except ValueError:
        return remote


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]  # any text fits a cache key


def _over(limits: dict[str, int]) -> bool:
    counts = cache.get_many(list(limits))
    return any(counts.get(key, 0) >= limit for key, limit in limits.items())


def _count(keys: list[str], window: int) -> None:
    for key in keys:
        if not cache.add(key, 1, window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, window)


def _login_keys(request: HttpRequest) -> dict[str, int]:
    """Cache key → limit, for the username tried and the client address."""
    username = login_name(request.POST.get("username", ""))
    keys = {f"sender:login-fail:ip:{client_ip(request)}": sender_settings.LOGIN_ATTEMPTS_PER_IP}
    if username:
        keys[f"sender:login-fail:user:{_digest(username)}"] = sender_settings.LOGIN_ATTEMPTS
    return keys


def blocked(request: HttpRequest) -> bool:
    return _over(_login_keys(request))


def record_failure(request: HttpRequest) -> None:
    _count(list(_login_keys(request)), sender_settings.LOGIN_WINDOW_SECONDS)


def clear_user(request: HttpRequest) -> None:
    cache.delete_many([key for key in _login_keys(request) if ":user:" in key])


class ThrottledLoginView(auth_views.LoginView):
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


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin's own login form checks passwords without the throttle, for visitors and for
    accounts already logged in alike: every request to it goes to the throttled login instead."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, mailing one mailbox (however the address is spelled) or asking
    from one client address at most the configured number of times per window."""

    def form_valid(self, form) -> HttpResponse:
        keys = {
            f"sender:reset:email:{_digest(caseless(form.cleaned_data['email']))}": sender_settings.PASSWORD_RESETS,
            f"sender:reset:ip:{client_ip(self.request)}": sender_settings.PASSWORD_RESETS_PER_IP,
        }
        if _over(keys):
            logger.warning("password reset throttled", extra={"ip": client_ip(self.request)})
            return HttpResponseRedirect(self.get_success_url())  # the usual answer, and no mail
        _count(list(keys), sender_settings.PASSWORD_RESET_WINDOW_SECONDS)
        return super().form_valid(form)
