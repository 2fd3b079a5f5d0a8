"""Sender: broadcasts to recipients across models over email, SMS, Telegram and storage.

Sending from code, in the shape of django.core.mail: `from sender import send_text`.
The names are loaded on first use (sender.direct), because Django imports this package
while loading apps, before any model can be imported."""

from typing import Any

API = ("send_text", "send_sms", "send_mass_sms", "get_connection", "receive", "SendError", "BadMessage", "NotSent",
       "UnknownMethod")


def __getattr__(name: str) -> Any:
    if name in API:
        from sender import direct  # lazy: see the module docstring

        return getattr(direct, name)
    raise AttributeError(f"module 'sender' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
