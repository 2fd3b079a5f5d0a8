"""The send methods, configured in `SENDER["METHODS"]` (alias → BACKEND, OPTIONS) and loaded
lazily by alias, like Django's CACHES."""

from asgiref.local import Local
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.connection import BaseConnectionHandler
from django.utils.module_loading import import_string

from sender.channels.base import BaseMethod
from sender.exceptions import InvalidMethod


class MethodHandler(BaseConnectionHandler):
    exception_class = InvalidMethod

    def configure_settings(self, configured: dict | None) -> dict:
        if configured is None:
            configured = getattr(settings, "SENDER", {}).get("METHODS", {})
        return configured

    def create_connection(self, alias: str) -> BaseMethod:
        params = self.settings[alias]
        path = params.get("BACKEND", "")
        try:
            backend_cls = import_string(path)
        except ImportError as exc:
            raise InvalidMethod(f"Send method '{alias}': cannot import backend '{path}': {exc}") from exc
        if not (isinstance(backend_cls, type) and issubclass(backend_cls, BaseMethod)):
            raise InvalidMethod(f"Send method '{alias}': '{path}' is not a BaseMethod subclass.")
        return backend_cls(alias=alias, params=params)

    def __getitem__(self, alias: str) -> BaseMethod:
        if alias not in self.settings:
            raise InvalidMethod(f"Unknown send method '{alias}'. Configured: {', '.join(self.settings) or 'none'}.")
        return super().__getitem__(alias)

    def choices(self) -> list[tuple[str, str]]:
        return [(alias, self[alias].label) for alias in self]

    def reset(self) -> None:
        """Forget loaded methods and re-read settings (after override_settings)."""
        self.__dict__.pop("settings", None)
        self._settings = None
        self._connections = Local(self.thread_critical)


methods = MethodHandler()


def aliases_of(kind: str) -> list[str]:
    """The configured aliases of one channel (`BaseMethod.kind`): every SMS method, every storage..."""
    return [alias for alias in methods if methods[alias].kind == kind]


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs) -> None:
    if setting == "SENDER":
        methods.reset()
