from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SenderConfig(AppConfig):
    name = "sender"
    verbose_name = _("Sender")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf  # noqa: F401  (registers system checks and setting resets)
        from .inbox import checks as inbox_checks  # noqa: F401
