"""The loopback gateways `make run` and `make run-scale` start: a mail server, Skebby and the
Telegram Bot API, each only when its method points at loopback (a real gateway configured
means no sandbox), with one line per gateway saying which it is."""

from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from sender.channels import methods
from sender.channels.sms.gateways import env_secret
from sender.channels.sms.http_gateway import status_entry
from sender.channels.sms.method import SmsMethod
from sender.channels.sms.models import SmsGateway
from sender.channels.sms.tracking import ensure_polling, sms_aliases
from sender.dev.sandbox import mail, skebby
from sender.dev.sandbox.sms_page import Arrival, PushTarget
from sender.dev.telegram import start_sandbox


@contextmanager
def sandboxes(webhook_url: str, say: Callable[[str], None], warn: Callable[[str], None]) -> Iterator[None]:
    """Start the sandboxes the configuration asks for, say what each gateway is, stop them on exit."""
    site = "{0.scheme}://{0.netloc}".format(urlsplit(webhook_url))
    started = [server for server in (_mail(say, warn), _sms(site, say, warn), _telegram(webhook_url, say, warn))
               if server]
    try:
        yield
    finally:
        for server in started:
            server.stop()


def sandbox_address(alias: str | None = None) -> tuple[str, int] | None:
    """(host, port) of the configured Skebby URL when it is on loopback, else None. A method
    that sends through the gateways kept in the database keeps the sandbox too, for them to
    point at it."""
    for name in [alias] if alias else list(methods):
        method = methods[name] if name in methods.settings else None
        if isinstance(method, SmsMethod) and method.options.get("backend") in ("skebby", "gateways"):
            url = urlsplit(method.options.get("url", ""))
            if url.hostname in {"127.0.0.1", "localhost"}:
                return url.hostname, url.port or 80
    return None


def _mail(say, warn):
    if "email" not in methods.settings:
        return None
    options = methods["email"].options
    if options.get("host") not in {"127.0.0.1", "localhost"}:
        say(_("Email goes to the real relay %(host)s (no mail sandbox).") % {"host": options.get("host")})
        return None
    try:
        server = mail.start(options["host"], int(options["port"]), settings.VAR_DIR / "mail")
    except OSError as exc:
        warn(_("Mail sandbox not started (%(error)s); using the server already on that port.") % {"error": exc})
        return None
    say(_("Mail sandbox: messages sent by email land in %(path)s") % {"path": server.handler.maildir._path})
    return server


def push_targets(site: str) -> Callable[[Arrival], PushTarget | None]:
    """How the sandbox finds where to push a report or a reply for an SMS that came in as
    Twilio, Vonage or a plain HTTP gateway: the enabled gateway whose URL path it was sent to,
    its push secret from the environment, its field names and words. Sender at `site`."""

    def target(arrival: Arrival) -> PushTarget | None:
        try:
            for gateway in SmsGateway.objects.filter(enabled=True, kind=SmsGateway.Kind.HTTP):
                path = urlsplit(gateway.url.replace("{username}", gateway.username)).path
                secret = env_secret(gateway.push_secret_env)
                if path != arrival.path or not secret:
                    continue
                mapping = {word: status_entry(entry) for word, entry in (gateway.status_mapping or {}).items()}
                delivered = next((w for w, (status, _r) in mapping.items() if status == "delivered"), "delivered")
                failures = {w: reason or w for w, (status, reason) in mapping.items() if status == "failed"}
                hooks = f"{site}/hooks/sms/{gateway.name}"
                return PushTarget(gateway.name, f"{hooks}/status/?key={quote(secret)}",
                                  f"{hooks}/incoming/?key={quote(secret)}", dict(gateway.status_push or {}),
                                  dict(gateway.incoming_push or {}), delivered, failures or {"failed": "failed"})
            return None
        finally:
            connections.close_all()  # the sandbox's request threads come and go

    return target


def _sms(site: str, say, warn):
    aliases = sms_aliases()
    for alias in aliases:
        ensure_polling(alias)
    address = sandbox_address()
    if address is None:
        if aliases:
            say(_("SMS go to the configured gateway (no Skebby sandbox)."))
        return None
    try:
        server = skebby.start(*address, step=3.0, fail_endings=skebby.DEMO_FAILURES)
    except OSError as exc:
        warn(_("Skebby sandbox not started (%(error)s); using the server already on that port.") % {"error": exc})
        return None
    server.state.targets = push_targets(site)
    host, port = server.server_address[:2]
    say(_("SMS sandbox: SMS go to %(url)s; see them arrive, report them or answer them at %(page)s")
        % {"url": server.url, "page": f"http://{host}:{port}/_sandbox/"})
    return server


def _telegram(webhook_url: str, say, warn):
    try:
        server = start_sandbox(webhook_url)
    except OSError as exc:
        warn(_("Telegram sandbox not started (%(error)s); using the server already on that port.") % {"error": exc})
        return None
    if server is None:
        if any(methods[alias].kind == "telegram" for alias in methods):
            say(_("Telegram goes to the configured Bot API (no Telegram sandbox)."))
        return None
    say(_("Telegram sandbox: act as a Telegram user at %(url)s/_sandbox/") % {"url": server.url})
    return server
