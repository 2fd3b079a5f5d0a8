from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    """The staff pages: installed so Django finds their admin, template tags and receivers."""

    name = "sender.web"
    label = "sender_web"
    verbose_name = _("Staff pages")

    def ready(self) -> None:
        from sender.web.telegram import live  # noqa: F401  (app loading: pushes new chat messages to open pages)
