from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SenderConfig(AppConfig):
    name = "sender"
    verbose_name = _("Sender")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sender import checks  # noqa: F401  (app loading: registers the system checks)
        from sender.text_index import restore_triggers

        post_migrate.connect(restore_triggers, sender=self, dispatch_uid="sender.text_index")
