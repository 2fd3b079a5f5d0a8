from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecipientsConfig(AppConfig):
    name = "sender.recipients"
    label = "recipients"
    verbose_name = _("Recipients")
    default_auto_field = "django.db.models.BigAutoField"
