"""System checks for the inbox settings, so a mistake shows in `manage.py check`, not as a
500 on the first attachment or login."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from sender.conf import sender_settings

SENDFILE_HEADERS = {"x-accel-redirect", "x-sendfile"}


@checks.register(checks.Tags.security)
def check_inbox_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    sendfile = sender_settings.ATTACHMENT_SENDFILE
    if sendfile is not None and (not isinstance(sendfile, dict)
                                 or str(sendfile.get("HEADER", "")).lower() not in SENDFILE_HEADERS):
        problems.append(checks.Error(
            'SENDER["ATTACHMENT_SENDFILE"] must be None or {"HEADER": "X-Accel-Redirect", "PREFIX": ...} '
            'or {"HEADER": "X-Sendfile"}.', id="sender.E060"))
    resolver = sender_settings.RECIPIENT_USER
    if resolver and "." in resolver:
        try:
            import_string(resolver)
        except ImportError as exc:
            problems.append(checks.Error(f'SENDER["RECIPIENT_USER"]: cannot import {resolver!r} ({exc}).',
                                         id="sender.E061"))
    alias = sender_settings.ACCOUNT_EMAIL_METHOD
    uses_method = any(str(m.get("BACKEND", "")).endswith("inbox.mail.EmailMethodBackend")
                      for m in getattr(settings, "MAILERS", {}).values())
    if uses_method and alias not in getattr(settings, "SENDER", {}).get("METHODS", {}):
        problems.append(checks.Error(
            f'SENDER["ACCOUNT_EMAIL_METHOD"] is {alias!r}, which is not in SENDER["METHODS"]; account email '
            "(invitations, password resets) would have no SMTP server.", id="sender.E062"))
    return problems
