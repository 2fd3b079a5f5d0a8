from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "sender.pipeline"
    label = "sender_pipeline"
    verbose_name = _("Templates and schedules")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sender.pipeline import answers, progress  # noqa: F401  (app loading: connects the receivers)
