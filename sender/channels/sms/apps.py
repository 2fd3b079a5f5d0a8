from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsConfig(AppConfig):
    name = "sender.channels.sms"
    label = "sender_sms"
    verbose_name = _("SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sender.channels.sms import receivers  # noqa: F401  (connects the signal receivers)
