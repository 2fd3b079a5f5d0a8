from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "sender.channels"
    label = "sender_channels"
    verbose_name = _("Send methods")

    def ready(self) -> None:
        from sender.channels import checks  # noqa: F401  (app loading: registers the system checks)
