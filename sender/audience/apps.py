from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AudienceConfig(AppConfig):
    name = "sender.audience"
    label = "recipients"
    verbose_name = _("Recipients")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: registers the system checks (STOP replies are an SMS handler: pipeline/answers.py).
        from sender.audience import checks  # noqa: F401
        from sender.audience import textindex

        # The picker's text index on every recipient model, the project's own included.
        post_migrate.connect(textindex.after_migrate, sender=self, dispatch_uid="sender_recipient_text_index")
