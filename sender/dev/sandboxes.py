"""The loopback gateways `make run` and `make run-scale` start: a mail server, Skebby and the
Telegram Bot API, each only when its method points at loopback (a real gateway configured
means no sandbox), with one line per gateway saying which it is."""

from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from sender.channels import methods
from sender.channels.sms.method import SmsMethod
from sender.channels.sms.tracking import ensure_polling, sms_aliases
from sender.dev.sandbox import mail, skebby
from sender.dev.telegram import start_sandbox


@contextmanager
def sandboxes(webhook_url: str, say: Callable[[str], None], warn: Callable[[str], None]) -> Iterator[None]:
    """Start the sandboxes the configuration asks for, say what each gateway is, stop them on exit."""
    started = [server for server in (_mail(say, warn), _sms(say, warn), _telegram(webhook_url, say, warn)) if server]
    try:
        yield
    finally:
        for server in started:
            server.stop()


def sandbox_address(alias: str | None = None) -> tuple[str, int] | None:
    """(host, port) of the configured Skebby URL when it is on loopback, else None."""
    for name in [alias] if alias else list(methods):
        method = methods[name] if name in methods.settings else None
        if isinstance(method, SmsMethod) and method.options.get("backend") == "skebby":
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


def _sms(say, warn):
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
    say(_("Skebby sandbox: SMS go to %(url)s (make replies with manage.py skebby_sandbox --help)")
        % {"url": server.url})
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
