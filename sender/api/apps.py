from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "sender.api"
    label = "sender_api"
    verbose_name = _("API, schedules, templates and opt-out")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (SMS "STOP" replies opt the number out)
