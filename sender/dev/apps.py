from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevConfig(AppConfig):
    """Development tools: sandboxes of the gateways, demo data, benchmarks, `run_sender`.
    Installed by the development settings; a production deployment does not need it."""

    name = "sender.dev"
    label = "sender_dev"
    verbose_name = _("Development tools")
