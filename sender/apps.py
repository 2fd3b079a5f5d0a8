from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SenderConfig(AppConfig):
    name = "sender"
    verbose_name = _("Sender")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sender import checks  # noqa: F401  (app loading: registers the system checks)
