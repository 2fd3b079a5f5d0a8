"""`get_connection`: which send method a call goes through, by alias, kind or backend path.

As with `django.core.mail.get_connection`, a dotted path may name a backend class of your
own: an SMS backend (a `BaseSmsBackend` subclass: `send(sms)` is all it must do) built with
the keyword arguments, through which the configured SMS method delivers while the
connection is used; the ledger rows stay those of that method."""

from typing import Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from sender.channels import BaseMethod, methods
from sender.channels.sms.backends import BaseSmsBackend
from sender.direct.errors import UnknownMethod


class Connection:
    """A configured send method, named once and reused by several sends.

    Used as a context manager it keeps the method's gateway session open across the sends
    made inside it (one login to Skebby, not one per call), as Django's mail connections do.
    """

    def __init__(self, method: BaseMethod, fail_silently: bool = False, backend: BaseSmsBackend | None = None):
        self.method = method
        self.fail_silently = fail_silently
        self.backend = backend  # an SMS backend given by path; None: the method's own
        self.system_user: Any = None  # read once per connection, for the sends made through it
        self._held: Any = None
        self._depth = 0  # nested `with`: only the outermost opens and closes

    @property
    def alias(self) -> str:
        return self.method.alias

    @property
    def supports_flash(self) -> bool:
        """Whether sends through this connection can be flash SMS."""
        if self.backend is not None:
            return bool(self.backend.supports_flash)
        return bool(getattr(self.method, "supports_flash", lambda: False)())

    def open(self) -> None:
        hold = getattr(self.method, "hold", None)
        if hold is not None and self._held is None:
            self._held = hold(self.backend) if self.backend is not None else hold()
            self._held.__enter__()

    def close(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.__exit__(None, None, None)

    def __enter__(self) -> "Connection":
        if not self._depth:
            self.open()
        self._depth += 1
        return self

    def __exit__(self, *exc_info) -> None:
        self._depth -= 1
        if not self._depth:
            self.close()

    def __repr__(self) -> str:
        return f"<Connection {self.alias!r}>"


def method_for(name: str) -> BaseMethod:
    """The configured method with alias `name`, else the first one of kind `name` ("sms")."""
    if name in methods.settings:
        return methods[name]
    for alias in methods:
        if methods[alias].kind == name:
            return methods[alias]
    raise UnknownMethod(_("No send method is configured as “%(name)s”.") % {"name": name})


def get_connection(path: str | None = None, fail_silently: bool = False, **kwargs: Any) -> Connection:
    """The configured method by alias or kind (default: the first SMS method); or, by dotted
    path, an SMS backend class built with `kwargs` (the first SMS method then delivers
    through it), or a configured method's BACKEND."""
    if path is None or "." not in path:
        if kwargs:
            raise UnknownMethod(_("Keyword arguments build a backend given by dotted path; “%(name)s” is "
                                  "configured in SENDER['METHODS'].") % {"name": path or "sms"})
        return Connection(method_for(path or "sms"), fail_silently)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise UnknownMethod(_("Cannot import the send method “%(path)s”.") % {"path": path}) from exc
    if isinstance(cls, type) and issubclass(cls, BaseSmsBackend):
        method = method_for("sms")
        if method.kind != "sms":
            raise UnknownMethod(_("An SMS backend needs an SMS method in SENDER['METHODS'] to record its sends."))
        try:
            backend = cls(**kwargs)
        except TypeError as exc:
            raise UnknownMethod(_("Cannot build “%(path)s”: %(error)s") % {"path": path, "error": exc}) from exc
        return Connection(method, fail_silently, backend)
    matches = [alias for alias in methods if methods.settings[alias].get("BACKEND") == path]
    if not matches or kwargs:
        raise UnknownMethod(_("“%(path)s” is not configured in SENDER['METHODS']: configure it there, "
                              "so that its sends are recorded under an alias.") % {"path": path})
    if not (isinstance(cls, type) and issubclass(cls, BaseMethod)):
        raise UnknownMethod(_("“%(path)s” is not a send method.") % {"path": path})
    return Connection(methods[matches[0]], fail_silently)
