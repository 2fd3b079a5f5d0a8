import atexit

from django.apps import AppConfig
from django.db import connections
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "sender.pipeline"
    label = "sender_pipeline"
    verbose_name = _("Templates and schedules")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sender.pipeline import answers, progress  # noqa: F401  (app loading: connects the receivers)

        # A task worker that stops (SIGTERM, end of --batch) ends its database sessions
        # itself, so PostgreSQL is not left with sessions until it notices the socket closed
        # (a database being dropped or migrated right after sees "accessed by other users").
        atexit.register(connections.close_all)
