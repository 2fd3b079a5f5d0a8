"""Errors Sender raises. Configuration errors never inherit from DeliveryError,
so delivery code that handles DeliveryError cannot swallow them."""

from django.core.exceptions import ImproperlyConfigured


class InvalidMethod(ImproperlyConfigured):
    """A send method alias that is not configured, or whose backend cannot be loaded."""


class InvalidRecipientModel(ImproperlyConfigured):
    """A recipient model named in settings that does not exist or lacks the mixin."""


class DeliveryError(Exception):
    """A gateway could not deliver.

    Transient errors (the server asks us to slow down, the connection dropped) are
    retried with backoff; permanent ones are not. `scope="method"` says the failure concerns
    the whole method, not these rows (credentials refused, no credit, the bot token revoked,
    a relay refusing every message): the method of the broadcast pauses with the reason
    until staff resume it, instead of failing every row one by one.
    """

    ROW = "row"
    METHOD = "method"

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None, scope: str = ROW):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.scope = scope


class InvalidAddress(ValueError):
    """An address that cannot be normalized; the message says why, for the recipient row."""


class SelectionError(ValueError):
    """Bad selection or message input. `errors` holds every problem as a sentence."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class InvalidFilter(SelectionError):
    """A "everyone matching" filter that is not a valid filter of its model (the API answers 400)."""


class IdempotencyConflict(SelectionError):
    """An idempotency key reused with a different request: answering with the first result
    would tell the client its new message went out (the API answers 422)."""
