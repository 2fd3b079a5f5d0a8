"""Account emails (invitations, password resets) over the product's own email method.

Django sends account email through its mailers (`MAILERS`, Django 6.1). The project's
default mailer is this backend: Django's SMTP backend whose host, port, credentials, TLS
and timeout come from `SENDER["METHODS"][SENDER["ACCOUNT_EMAIL_METHOD"]]["OPTIONS"]`, read
when the mailer is created, so there is one SMTP configuration, not two::

    MAILERS = {"default": {"BACKEND": "sender.inbox.mail.EmailMethodBackend"}}

Options given in the mailer's own `OPTIONS` still win.
"""

from typing import Any

from django.conf import settings
from django.core.mail import InvalidMailer
from django.core.mail.backends.smtp import EmailBackend

from sender.conf import sender_settings

SMTP_OPTIONS = ("host", "port", "username", "password", "use_tls", "use_ssl", "timeout", "ssl_keyfile", "ssl_certfile")


def method_smtp_options() -> dict[str, Any]:
    """The SMTP options of the send method named by `ACCOUNT_EMAIL_METHOD`; empty values dropped."""
    alias = sender_settings.ACCOUNT_EMAIL_METHOD
    method = getattr(settings, "SENDER", {}).get("METHODS", {}).get(alias)
    if method is None:
        return {}
    options = method.get("OPTIONS", {})
    return {name: options[name] for name in SMTP_OPTIONS if options.get(name) not in (None, "")}


class EmailMethodBackend(EmailBackend):
    def __init__(self, *, alias: str | None = None, **options: Any) -> None:
        if alias is None:
            raise InvalidMailer("EmailMethodBackend is a MAILERS backend; list it in settings.MAILERS.")
        shared = method_smtp_options()
        if "host" not in shared and "host" not in options:
            raise InvalidMailer(
                f'SENDER["METHODS"][{sender_settings.ACCOUNT_EMAIL_METHOD!r}] has no OPTIONS["host"] to send '
                "account email through (SENDER['ACCOUNT_EMAIL_METHOD']).", alias=alias,
            )
        super().__init__(alias=alias, **{**shared, **options})
