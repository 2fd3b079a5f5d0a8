"""The interface every send method implements, and the values that cross it."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

from django.core import checks
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sender.exceptions import InvalidMethod
from sender.statuses import RETRY, TAKEN, RecipientStatus

if TYPE_CHECKING:
    from sender.models import MessageAttachment, MessageRecipient, MessageSent

OUTCOMES = frozenset({RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.FAILED, RecipientStatus.UNKNOWN,
                      RETRY})
"""The closed set a method may answer with, row by row."""
BODY_FORMATS = [("plain", gettext_lazy("Plain text")), ("markdown", gettext_lazy("Formatted (Markdown)"))]
"""How an email body is written: sent as it is, or as HTML with the text as its alternative."""


@dataclass(frozen=True)
class Draft:
    """The message as composed, before anything is written."""

    body: str
    subject: str = ""
    attachments: Sequence["MessageAttachment"] = field(default_factory=tuple)
    transliterate: bool = False  # SMS: replace characters outside GSM-7 where a close one exists
    sender: str = ""  # SMS: this message's sender id instead of the method's (sender.direct's `frm`)
    status_report: bool = True  # SMS: False sends without asking for (or polling) delivery reports
    flash: bool = False  # SMS: shown on the screen at once and not stored (class 0), where the gateway can
    format: str = "plain"  # email: "markdown" sends the body as HTML too, with the text as its alternative


@dataclass(frozen=True, slots=True)
class Outcome:
    """What delivering one recipient row came to.

    `sent` is what a gateway that took the row answers; `delivered` what a method that knows
    it reached the person answers (storage, Telegram). `failed` is a refusal by the gateway.

    `charged` says whether the row costs its price: by default only a row the gateway took
    (`sent` or `delivered`); a method sets it for a row that may have gone out (an `unknown` after the
    connection broke mid-message).

    `unit_price` is the price per segment of whoever took the row, when it is not the method's
    own (an SMS gateway kept in the database has its own price)."""

    row_id: int
    status: str  # one of OUTCOMES
    reason: str = ""
    gateway_ref: str = ""
    charged: bool | None = None
    unit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.status not in OUTCOMES:
            raise ValueError(f"Outcome status {self.status!r} is not one of {sorted(OUTCOMES)}.")
        if self.charged is None:
            object.__setattr__(self, "charged", self.status in TAKEN)


_listener: ContextVar[Callable[[Sequence[Outcome]], None] | None] = ContextVar("sender_outcome_listener",
                                                                               default=None)


def report(*outcomes: Outcome) -> None:
    """Tell whoever runs the delivery that these rows' fate is known, the moment the gateway
    answered: the pipeline journals them, so a worker killed before its next checkpoint is
    not made to send them again. A method calls it after each gateway exchange."""
    listener = _listener.get()
    if listener is not None:
        listener(outcomes)


@contextmanager
def reporting_to(listener: Callable[[Sequence[Outcome]], None]) -> Iterator[None]:
    """Route `report()` calls made while delivering to `listener` (the pipeline's journal)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class BaseMethod:
    """A way of reaching recipients. Subclasses set the class attributes and override hooks.

    `address_field` names the recipient mixin accessor the method reads ("email",
    "sms", "telegram"), or None when the recipient itself is the address (storage).
    """

    label: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "email", "sms", "telegram", "storage": which channel package this is
    address_field: ClassVar[str | None] = None
    requires_subject: ClassVar[bool] = False
    supports_attachments: ClassVar[bool] = True
    max_length: ClassVar[int | None] = None
    # Rows that can be on the wire at once, sent but not yet reported: after a crash only these
    # may have gone out without the journal knowing (None: the whole chunk, for a method that
    # does not report() as it goes).
    in_flight: ClassVar[int | None] = None
    priced_by_text: ClassVar[bool] = False
    """True when the price depends on the text (SMS segments): the preview then prices each
    recipient's rendering of a message with placeholders."""

    def __init__(self, alias: str, params: dict[str, Any]):
        self.alias = alias
        self.params = params
        self.options: dict[str, Any] = params.get("OPTIONS", {})
        try:
            self.unit_price = Decimal(str(params.get("PRICE", "0")))
        except InvalidOperation:
            raise InvalidMethod(f"Send method '{alias}': PRICE must be a number, not {params['PRICE']!r}.") from None
        if params.get("LABEL"):
            self.label = params["LABEL"]
        # Rows between two writes of outcomes, when this method wants its own (sender.pipeline.deliver).
        self.checkpoint_rows: int | None = params.get("CHECKPOINT_ROWS")
        if self.checkpoint_rows is not None and (type(self.checkpoint_rows) is not int or self.checkpoint_rows < 1):
            raise InvalidMethod(f"Send method '{alias}': CHECKPOINT_ROWS must be a positive integer, "
                                f"not {self.checkpoint_rows!r}.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias!r}>"

    def normalize(self, address: str) -> str:
        """Return the canonical form of `address` (used to dedupe) or raise InvalidAddress."""
        return address

    def presend(self, draft: Draft) -> list[str]:
        """Problems that stop this draft from going out over this method, as sentences."""
        problems = []
        if not draft.body.strip():
            problems.append(_("The message body is empty."))
        if "\x00" in draft.body or "\x00" in draft.subject:  # no database stores it, no gateway wants it
            problems.append(_("The message contains a NUL character; remove it."))
        if any(ch in draft.subject for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
            problems.append(_("The subject must be a single line."))
        if self.requires_subject and not draft.subject.strip():
            problems.append(_("%(method)s needs a subject.") % {"method": self.label})
        if self.max_length is not None and len(draft.body) > self.max_length:
            problems.append(
                _("%(method)s allows at most %(max)d characters; the message has %(n)d.")
                % {"method": self.label, "max": self.max_length, "n": len(draft.body)}
            )
        if draft.attachments and not self.supports_attachments:
            problems.append(_("%(method)s cannot carry attachments.") % {"method": self.label})
        return problems

    def warnings(self, draft: Draft) -> list[str]:
        """Things worth knowing before sending that do not stop it (e.g. UCS-2 SMS)."""
        return []

    def segments(self, draft: Draft) -> int:
        """How many billable units one recipient costs (SMS segments; 1 elsewhere)."""
        return 1

    def price(self, draft: Draft) -> Decimal:
        """Cost of sending this draft to one recipient."""
        return self.unit_price * self.segments(draft)

    def as_sent(self, text: str, draft: Draft) -> str:
        """The body as this method will send it (the preview's example shows this, not the draft)."""
        return text

    def as_html(self, text: str, draft: Draft) -> str | None:
        """The body as HTML when this method sends a formatted one (the preview shows it); else None."""
        return None

    def sent_extra(self, draft: Draft) -> dict[str, Any]:
        """What the MessageSent row keeps about how this draft goes out (read back by deliver)."""
        return {"segments": self.segments(draft)}

    def deliver(self, message: "MessageSent", rows: Sequence["MessageRecipient"]) -> list[Outcome]:
        """Deliver one batch of pending rows; return one outcome per row.

        Rows not reached because of a transient problem come back as RETRY; a problem
        that stops the whole batch before anything was sent raises DeliveryError.
        """
        raise NotImplementedError

    def recovered(self, message: "MessageSent", outcomes: Sequence[Outcome]) -> None:
        """Outcomes a stopped worker journaled (sender.pipeline.journal), now recorded by the
        worker that took its rows over. A method that leaves follow-up work behind a send
        (SMS: orders to poll for delivery reports) does it here, as its `deliver` would have
        once the batch ended; it must be idempotent (the dead worker may have done it)."""

    def check(self) -> list[checks.CheckMessage]:
        """System-check messages about this method's configuration."""
        return []
