from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudienceConfig(AppConfig):
    name = "sender.audience"
    label = "recipients"
    verbose_name = _("Recipients")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: registers the system checks (STOP replies are an SMS handler: pipeline/answers.py).
        from sender.audience import checks  # noqa: F401
