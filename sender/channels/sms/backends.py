"""SMS backends, in the spirit of Django's email backends: `skebby` (the real gateway),
`console` and `file` (development), `locmem` (tests, with an outbox).

The SMS method chooses one with OPTIONS["backend"] (a short name or a dotted path). A
backend sends one order to many numbers, reports order states in Skebby's words (the
method maps them with `gateways.skebby.STATES`), returns received SMS and credits.
"""

import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from sender.channels.sms.gateway import Accepted, Received, SkebbyClient
from sender.exceptions import DeliveryError, InvalidMethod
from sender.ratelimit import per_second, wait_turn

BACKENDS = {
    "skebby": "sender.channels.sms.backends.SkebbyBackend",
    "console": "sender.channels.sms.backends.ConsoleBackend",
    "file": "sender.channels.sms.backends.FileBackend",
    "locmem": "sender.channels.sms.backends.LocmemBackend",
}


@dataclass(frozen=True)
class Sms:
    """One order: one text to many numbers, or (`texts`) each number its own text."""

    order_id: str
    text: str
    encoding: str  # "gsm" or "ucs2", Skebby's words
    message_type: str
    sender: str
    recipients: list[str]
    max_fragments: int = 7
    flash: bool = False  # class 0: shown at once, not stored; only to a backend that supports_flash
    texts: list[str] | None = None  # per number, in the order of `recipients` (placeholders filled in)

    def text_for(self, index: int) -> str:
        return self.texts[index] if self.texts is not None else self.text


def parametric(texts: Sequence[str], name: str = "Text") -> tuple[str, list[str]]:
    """Texts that differ as one parametric message: what they share at the start and end kept
    in the message around one `${Text}`, each number's differing middle as its value. No `$`
    is left in the shared parts, so nothing in them reads as another placeholder."""
    prefix = os.path.commonprefix(list(texts)).split("$", 1)[0]
    rests = [t[len(prefix):] for t in texts]
    suffix = os.path.commonprefix([r[::-1] for r in rests])[::-1].rsplit("$", 1)[-1]
    values = [r[:len(r) - len(suffix)] for r in rests]
    return prefix + "${%s}" % name + suffix, values


class BaseSmsBackend:
    """Subclasses override `send`; the others have harmless defaults for dev backends."""

    name: ClassVar[str] = ""
    max_recipients: ClassVar[int] = 1000
    supports_tracking: ClassVar[bool] = False  # True: order states can be polled later
    supports_incoming: bool = False  # True: received SMS can be fetched
    supports_flash: bool = False  # True: the gateway can send flash (class 0) SMS

    def __init__(self, **options: Any):
        self.options = options
        self.max_recipients = int(options.get("batch_size", self.max_recipients))

    def refuse_flash(self, sms: Sms) -> None:
        """A flash order to a gateway that has no flash: refused, never sent as an ordinary SMS."""
        if sms.flash and not self.supports_flash:
            raise DeliveryError(_("This SMS gateway cannot send flash SMS."), permanent=True)

    def __enter__(self) -> "BaseSmsBackend":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        pass

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        """Hand the order over; raise DeliveryError. `retried`: it may have gone out already."""
        raise NotImplementedError

    def states(self, order_id: str) -> dict[str, str] | None:
        """number → Skebby state word, or None when the order is unknown."""
        return None

    def received(self, since: datetime, until: datetime, page: int = 1, size: int = 100) -> tuple[list[Received], bool]:
        """One page of the SMS received between two moments, and whether another may follow."""
        return [], False

    def credits(self) -> dict[str, Any] | None:
        """{"money": ..., "sms": {type: quantity}}, or None when the backend has no account."""
        return None

    def problems(self) -> list[str]:
        """What is missing from the configuration, as sentences (for system checks)."""
        return []


def load_backend(options: dict[str, Any], alias: str) -> BaseSmsBackend:
    name = options.get("backend", "skebby")
    if name == "gateways":  # sent by gateways.deliver; nothing to poll here
        return BaseSmsBackend(**options)
    path = BACKENDS.get(name, name)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise InvalidMethod(f"Send method '{alias}': cannot import SMS backend '{name}': {exc}") from exc
    return cls(**options)


class SkebbyBackend(BaseSmsBackend):
    """The real gateway, through the httpx client."""

    name = "skebby"
    supports_tracking = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.supports_incoming = bool(options.get("incoming"))  # Skebby enables received SMS per account
        self._client: SkebbyClient | None = None

    @property
    def client(self) -> SkebbyClient:
        if self._client is None:
            o = self.options
            self._client = SkebbyClient(
                base_url=o.get("url", ""), username=o.get("username", ""), password=o.get("password", ""),
                auth=o.get("auth", "session"), timeout=float(o.get("timeout", 10)), retries=int(o.get("retries", 2)),
                backoff=float(o.get("backoff", 1)), backoff_max=float(o.get("backoff_max", 30)),
                throttle=account_throttle(o),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        """One call per order: `POST sms`, or `POST paramsms` when each number has its own text."""
        self.refuse_flash(sms)  # Skebby's API has no flash (class 0) field
        if sms.texts is not None:
            message, values = parametric(sms.texts)
            return self.client.send_parametric(
                sms.order_id, message, [{"recipient": n, "Text": v} for n, v in zip(sms.recipients, values, strict=True)],
                sms.message_type, sms.encoding, sms.sender, check_first=retried)
        return self.client.send_sms(sms.order_id, sms.text, sms.recipients, sms.message_type, sms.encoding,
                                    sms.sender, sms.max_fragments, check_first=retried)

    def states(self, order_id: str) -> dict[str, str] | None:
        return self.client.order_states(order_id)

    def received(self, since: datetime, until: datetime, page: int = 1, size: int = 100) -> tuple[list[Received], bool]:
        return self.client.received(since, until, page, size)

    def credits(self) -> dict[str, Any] | None:
        return self.client.credits()

    def problems(self) -> list[str]:
        missing = [key for key in ("url", "username", "password") if not self.options.get(key)]
        problems = []
        if missing:
            env = {"url": "SENDER_SKEBBY_URL", "username": "SENDER_SKEBBY_USERNAME", "password": "SENDER_SKEBBY_PASSWORD"}
            problems.append("Skebby needs OPTIONS " + ", ".join(f"'{k}'" for k in missing) + "; set "
                            + ", ".join(env[k] for k in missing) + " in the environment.")
        if self.options.get("auth", "session") not in ("session", "token"):
            problems.append("OPTIONS['auth'] must be 'session' or 'token'.")
        return problems


class LocmemBackend(BaseSmsBackend):
    """Keeps every order in `outbox`; tests put replies in `inbox` and terminal states in `states_by_number`."""

    name = "locmem"
    outbox: ClassVar[list[Sms]] = []
    inbox: ClassVar[list[Received]] = []
    states_by_number: ClassVar[dict[str, str]] = {}
    supports_tracking = True
    supports_incoming = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.supports_flash = bool(options.get("flash", True))  # False: stand for a gateway without flash

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        self.refuse_flash(sms)
        if retried and any(o.order_id == sms.order_id for o in self.outbox):
            return Accepted(sms.order_id, existing=True)
        self.outbox.append(sms)
        return Accepted(sms.order_id, len(sms.recipients))

    def states(self, order_id: str) -> dict[str, str] | None:
        order = next((o for o in self.outbox if o.order_id == order_id), None)
        if order is None:
            return None
        return {n: self.states_by_number.get(n, "DLVRD") for n in order.recipients}

    def received(self, since: datetime, until: datetime, page: int = 1, size: int = 100) -> tuple[list[Received], bool]:
        """The whole inbox, page by page, whatever the moments (stored once each by their id)."""
        taken = self.inbox[(page - 1) * size:page * size]
        return taken, len(taken) == size

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.inbox.clear()
        cls.states_by_number.clear()


class ConsoleBackend(BaseSmsBackend):
    """Writes each order to stdout (or OPTIONS["stream"]); everything counts as delivered."""

    name = "console"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.supports_flash = bool(options.get("flash", True))

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        self.refuse_flash(sms)
        stream = self.options.get("stream") or sys.stdout
        flash = "Flash " if sms.flash else ""
        if sms.texts is not None:  # each number its own text
            stream.write(f"{flash}SMS order {sms.order_id} ({sms.message_type}, {sms.encoding}) to {len(sms.recipients)} "
                         f"numbers, each its own text:\n"
                         + "".join(f"{n}: {t}\n" for n, t in zip(sms.recipients, sms.texts, strict=True))
                         + f"{'-' * 60}\n")
            stream.flush()
            return Accepted(sms.order_id, len(sms.recipients))
        stream.write(f"{flash}SMS order {sms.order_id} ({sms.message_type}, {sms.encoding}) to {len(sms.recipients)} "
                     f"numbers: {', '.join(sms.recipients[:5])}{' ...' if len(sms.recipients) > 5 else ''}\n"
                     f"{sms.text}\n{'-' * 60}\n")
        stream.flush()
        return Accepted(sms.order_id, len(sms.recipients))


class FileBackend(BaseSmsBackend):
    """Appends each order as one JSON line to OPTIONS["file_path"]/sms.jsonl (default var/sms/)."""

    name = "file"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.supports_flash = bool(options.get("flash", True))

    def folder(self) -> Path:
        default = Path(getattr(settings, "VAR_DIR", ".")) / "sms"
        folder = Path(self.options.get("file_path") or default)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        self.refuse_flash(sms)
        path = self.folder() / "sms.jsonl"
        if retried and path.exists() and f'"order_id": "{sms.order_id}"' in path.read_text():
            return Accepted(sms.order_id, existing=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({**asdict(sms), "id": uuid.uuid4().hex}, ensure_ascii=False) + "\n")
        return Accepted(sms.order_id, len(sms.recipients))


def account_throttle(options: dict[str, Any]) -> Callable[[], None] | None:
    """OPTIONS "rate" (send orders a second, optional): the account's limit at the gateway,
    shared by every worker."""
    limits = per_second(f"sms:{options.get('url', '')}:{options.get('username', '')}", float(options.get("rate") or 0))
    return partial(wait_turn, limits) if limits else None
