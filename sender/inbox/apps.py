from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "sender.inbox"
    label = "sender_inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        # App loading: registers the system checks and the unread-counter receiver.
        from sender.inbox import checks, live  # noqa: F401
