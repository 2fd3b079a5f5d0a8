"""Account emails (invitations, password resets) over the product's own email method.

Django's auth views send through `EMAIL_BACKEND`; this backend is Django's SMTP backend
with its host, port, credentials and TLS taken from `SENDER["METHODS"][ACCOUNT_EMAIL_METHOD]`,
so there is one SMTP configuration, not two. Explicit keyword arguments still win.
"""

from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

from ..conf import sender_settings


class EmailMethodBackend(EmailBackend):
    def __init__(self, **kwargs: Any) -> None:
        alias = sender_settings.ACCOUNT_EMAIL_METHOD
        options = getattr(settings, "SENDER", {}).get("METHODS", {}).get(alias, {}).get("OPTIONS", {})
        defaults = {"host": options.get("host"), "port": options.get("port"), "username": options.get("username"),
                    "password": options.get("password"), "use_tls": options.get("use_tls"),
                    "use_ssl": options.get("use_ssl"), "timeout": options.get("timeout")}
        super().__init__(**{**{k: v for k, v in defaults.items() if v is not None}, **kwargs})
