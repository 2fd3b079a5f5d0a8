"""The ledger: what a broadcast leaves behind (the message, one row per method, one row per
address, reads) and what people send back."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.urls import reverse
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _

from sender.statuses import FailureCode, RecipientStatus, counter


class _AttachmentStorage(LazyObject):
    """STORAGES["attachments"], looked up on first use and again after the setting changes
    (Django evaluates a FileField's storage callable once, at import)."""

    def _setup(self) -> None:
        self._wrapped = storages["attachments"]


_attachments = _AttachmentStorage()


def attachment_storage() -> _AttachmentStorage:
    """Private storage for attachments, never under a public URL."""
    return _attachments


@receiver(setting_changed)
def _reset_attachment_storage(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        _attachments._wrapped = empty


class MessageTypology(models.Model):
    """What kind of message this is (notice, reminder, invoice...), chosen when composing."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("message typology")
        verbose_name_plural = _("message typologies")

    def __str__(self) -> str:
        return self.name


class MessageAttachment(models.Model):
    """A file sent with a broadcast; kept in private storage, served only after an access check."""

    file = models.FileField(_("file"), upload_to="%Y/%m/", storage=attachment_storage)
    name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Broadcast(models.Model):
    """One act of sending: one message to one selection, fanned out over one or more methods.

    The idempotency key comes from the form (or the command line); committing the same
    key twice returns the existing broadcast instead of sending again, provided the request
    is the same (`request_hash`); the same key with another request is refused.
    """

    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    request_hash = models.CharField(_("request hash"), max_length=64, blank=True, editable=False,
                                    help_text=_("SHA-256 of the request that used the idempotency key."))
    typology = models.ForeignKey(
        MessageTypology, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("typology")
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("body"))
    attachments = models.ManyToManyField(MessageAttachment, blank=True, verbose_name=_("attachments"))
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="broadcasts", verbose_name=_("sent by")
    )
    selection = models.JSONField(_("selection"), default=dict, help_text=_("What was selected, as posted."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Origin(models.TextChoices):
        BROADCAST = "broadcast", _("broadcast")
        CHAT = "chat", _("chat reply")
        TEST = "test", _("test to the sender")

    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, default=Origin.BROADCAST,
                              help_text=_("A one-to-one chat reply or a test sent to oneself goes through the "
                                          "pipeline too, but is no broadcast: History lists broadcasts only."))

    # Who pays for it (django-sms-gateway's billee): any object, or nobody. The cost report
    # groups and invoices by it as it does by sender.
    billee_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name=_("billee type"))
    billee_id = models.CharField(_("billee id"), max_length=64, blank=True)
    billee = GenericForeignKey("billee_type", "billee_id")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        indexes = [
            models.Index(fields=["sender", "-created_at"], name="broadcast_sender_created"),
            models.Index(fields=["billee_type", "billee_id"], name="broadcast_billee"),
        ]

    def __str__(self) -> str:
        return self.subject or self.body[:60]

    def get_absolute_url(self) -> str:
        return reverse("sender:broadcast", args=[self.pk])


class MessageSent(models.Model):
    """One broadcast over one send method, with its counters and cost."""

    class Status(models.TextChoices):
        PREPARING = "preparing", _("preparing")  # a large send: its rows are being written by a task
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        PAUSED = "paused", _("paused")  # the method itself failed (credentials, credit); `error` says why
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="sents", verbose_name=_("broadcast"))
    method = models.CharField(_("send method"), max_length=32)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    pending_count = models.PositiveIntegerField(_("pending"), default=0)
    sent_count = models.PositiveIntegerField(_("sent"), default=0)
    delivered_count = models.PositiveIntegerField(_("delivered"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    unknown_count = models.PositiveIntegerField(_("unknown"), default=0)
    invalid_count = models.PositiveIntegerField(_("invalid"), default=0)
    duplicate_count = models.PositiveIntegerField(_("duplicate"), default=0)
    opted_out_count = models.PositiveIntegerField(_("opted out"), default=0)
    cost = models.DecimalField(_("total cost"), max_digits=12, decimal_places=4, default=Decimal(0))
    invoiced = models.BooleanField(_("invoiced"), default=False)
    invoiced_at = models.DateTimeField(_("invoiced at"), null=True, blank=True)
    invoiced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("invoiced by"),
    )
    error = models.TextField(_("error"), blank=True, help_text=_("Why the method stopped, if it did."))
    extra = models.JSONField(_("extra"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "method"]
        verbose_name = _("message sent")
        verbose_name_plural = _("messages sent")
        permissions = [
            ("send_message", _("Can send broadcasts")),
            ("view_all_messages", _("Can see every broadcast, not only their own")),
            ("mark_invoiced", _("Can mark sent messages as invoiced")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "method"], name="messagesent_one_per_method"),
        ]
        indexes = [
            models.Index(fields=["method", "created_at"], name="messagesent_method_created"),
            models.Index(fields=["invoiced", "created_at"], name="messagesent_invoiced_created"),
            models.Index(fields=["status"], name="messagesent_status"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast} ({self.method})"

    # The ancestor kept the message on this row; keep reading it from here working.
    @property
    def subject(self) -> str:
        return self.broadcast.subject

    @property
    def body(self) -> str:
        return self.broadcast.body

    @property
    def typology(self) -> MessageTypology | None:
        return self.broadcast.typology

    COUNTERS = tuple(counter(status) for status in RecipientStatus)
    """The counter fields, one per recipient status, in the order of the status set."""

    def counts(self) -> dict[str, int]:
        """{status: rows in it}, for every status."""
        return {status.value: getattr(self, counter(status)) for status in RecipientStatus}

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in self.COUNTERS)

    @property
    def processed(self) -> int:
        """Rows with a final status: everything but pending."""
        return self.total - self.pending_count


class PostgresPartialIndex(models.Index):
    """An index of the rows that meet `condition` on PostgreSQL, of every row elsewhere.
    SQLite's planner proves only `IS NOT NULL` from a query's terms (or finds the condition
    word for word), and the recipient table's bulk writes are timed on PostgreSQL: SQLite
    keeps the whole index and the plans it has."""

    def _get_condition_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super()._get_condition_sql(model, schema_editor)


class FilledIndex(PostgresPartialIndex):
    """An index of the rows whose (text) fields are not empty, on PostgreSQL; a plain index
    elsewhere. For a column empty when a row is written and filled later, on PostgreSQL the
    bulk write of a broadcast's rows then adds nothing to it; an equality lookup on a
    non-empty value still plans through it (the planner proves `= 'x'` implies `<> ''`)."""

    def __init__(self, *, fields: list[str], name: str) -> None:
        condition = models.Q()
        for field in fields:
            condition &= ~models.Q(**{field: ""})
        super().__init__(fields=fields, name=name, condition=condition)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.pop("condition")
        return path, args, kwargs


def reply_address(path: str = "") -> models.Q:
    """The recipient rows a reply may be matched to by address: every address but an email
    address (an SMS reply comes from a phone number; nothing looks an email row up by its
    address). Only these rows are in PostgreSQL's index of addresses, so that an email
    commit's rows, the bulk of them, cost it nothing; and PostgreSQL plans a query through
    a partial index only when the query states its condition, so every query that finds
    rows by address adds this Q (one that only narrows rows found otherwise, as a receipt's
    rows by their order, need not). `path`: the relation to the recipient row, "recipient__"."""
    return ~models.Q(**{f"{path}address__contains": "@"})


class MessageRecipient(models.Model):
    """One address of one recipient for one method, and what became of it."""

    Status = RecipientStatus

    # Rows are written a million at a time (pipeline/rows.py), and every index and checked key
    # costs each of them: message_sent needs no index of its own (the two indexes below start
    # with it), nor content_type (recipient_object does); content types are never deleted
    # under a live model, and PROTECT is Django's check, not the database's, so the database
    # does not check that key per row (measured: 0.3 s per 100,000 rows on PostgreSQL).
    message_sent = models.ForeignKey(
        MessageSent, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("message sent"),
        db_index=False,
    )
    # Empty for a bare address sent from code (sender.direct): the row is the whole record.
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True,
                                     verbose_name=_("recipient type"), db_index=False, db_constraint=False)
    object_id = models.CharField(_("recipient id"), max_length=64, blank=True)
    recipient = GenericForeignKey("content_type", "object_id")
    address = models.CharField(_("address"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    reason_code = models.CharField(_("reason code"), max_length=16, choices=FailureCode.choices, blank=True,
                                   default=FailureCode.NONE, db_default=FailureCode.NONE.value, help_text=_("Who refused a failed row."))
    code = models.UUIDField(_("code"), default=uuid.uuid4, unique=True, editable=False,
                            help_text=_("Our reference for this row, given to gateways for receipts."))
    gateway_ref = models.CharField(_("gateway reference"), max_length=128, blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=0)
    cost = models.DecimalField(_("cost"), max_digits=10, decimal_places=4, default=Decimal(0))
    text = models.TextField(_("text"), blank=True, default="", db_default="",
                            help_text=_("What this recipient was sent when it differs from the message's body "
                                        "(placeholders filled in); kept by every method."))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    is_sender = models.BooleanField(_("copy to sender"), default=False)
    batch = models.PositiveIntegerField(_("batch"), default=0)
    claim = models.UUIDField(_("claimed by"), null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message recipient")
        verbose_name_plural = _("message recipients")
        indexes = [
            # Workers claim and read one batch of one method.
            models.Index(fields=["message_sent", "batch", "status"], name="recipient_batch_status"),
            # Detail page filters by status; "retry failed" finds failed rows.
            models.Index(fields=["message_sent", "status"], name="recipient_sent_status"),
            # Per-recipient history: every message a given object was sent.
            models.Index(fields=["content_type", "object_id"], name="recipient_object"),
            # An incoming SMS finds who sent it by number. On PostgreSQL email rows are not in
            # it (see reply_address): 100,000 email addresses cost a commit ~0.3 s of server CPU.
            PostgresPartialIndex(fields=["address"], name="recipient_address", condition=reply_address()),
            # A gateway's receipt finds its rows (exact match: no LIKE index on PostgreSQL). Empty
            # until delivery, so on PostgreSQL the rows a commit writes are not in it.
            FilledIndex(fields=["gateway_ref"], name="recipient_gateway_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.status})"


class MessageUserRead(models.Model):
    """A recipient opened a stored message."""

    message_sent = models.ForeignKey(
        MessageSent, on_delete=models.CASCADE, related_name="reads", verbose_name=_("message sent")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    read_at = models.DateTimeField(_("read at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message read")
        verbose_name_plural = _("messages read")
        constraints = [models.UniqueConstraint(fields=["message_sent", "user"], name="messageuserread_once")]

    def __str__(self) -> str:
        return f"{self.user} read {self.message_sent}"


class IncomingMessage(models.Model):
    """An SMS a recipient sent us (a reply), linked to them and to the broadcast they last
    got over that method, when their number is known."""

    method = models.CharField(_("send method"), max_length=32)
    gateway_id = models.CharField(_("gateway id"), max_length=64)
    sender = models.CharField(_("from"), max_length=32, db_index=True)
    to = models.CharField(_("to"), max_length=32, blank=True)
    text = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received at"), db_index=True)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("recipient type")
    )
    object_id = models.CharField(_("recipient id"), max_length=64, blank=True)
    recipient = GenericForeignKey("content_type", "object_id")
    message_sent = models.ForeignKey(
        MessageSent, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies",
        verbose_name=_("in reply to"),
    )
    created_at = models.DateTimeField(_("fetched at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("incoming message")
        verbose_name_plural = _("incoming messages")
        constraints = [models.UniqueConstraint(fields=["method", "gateway_id"], name="incoming_once")]
        indexes = [models.Index(fields=["content_type", "object_id"], name="incoming_object")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"


class RateWindow(models.Model):
    """One shared rate limit's recent calls (sender.ratewindow): the database backend that
    keeps Telegram's, an SMS gateway's or an SMTP relay's limit across every worker process
    when there is no Redis. A row per key, locked while a call takes its place."""

    key = models.CharField(max_length=200, primary_key=True)
    times = models.JSONField(default=list)  # epoch seconds of the last calls, oldest first, at most n
    until = models.FloatField(default=0.0, db_index=True)  # after this the row limits nothing: it may go
