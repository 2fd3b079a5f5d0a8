from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelegramConfig(AppConfig):
    name = "sender.channels.telegram"
    label = "sender_telegram"
    verbose_name = _("Telegram")
    default_auto_field = "django.db.models.BigAutoField"
