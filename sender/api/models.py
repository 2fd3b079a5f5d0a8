"""API tokens, scheduled broadcasts, message templates and opt-outs."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ..models import Broadcast, MessageAttachment, MessageTypology


class ApiToken(models.Model):
    """A secret that lets another system act as one user through the API.

    Only a SHA-256 digest is stored: the token is shown once, when created. Tokens are long
    random strings, so a fast hash is enough (no password stretching needed)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses it, e.g. “billing system”."))
    prefix = models.CharField(_("prefix"), max_length=16, help_text=_("The token's first characters, to recognise it."))
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class MessageTemplate(models.Model):
    """A saved message for one typology. Its subject and body may hold placeholders such as
    {{ name }}, rendered per recipient in a sandbox (templating.py)."""

    name = models.CharField(_("name"), max_length=100)
    typology = models.ForeignKey(MessageTypology, on_delete=models.CASCADE, related_name="templates",
                                 verbose_name=_("typology"))
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["typology__name", "name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [models.UniqueConstraint(fields=["typology", "name"], name="template_name_per_typology")]

    def __str__(self) -> str:
        return f"{self.typology}: {self.name}"

    def clean(self) -> None:
        from .templating import check_template

        check_template(self.subject, self.body)


class OptOut(models.Model):
    """An address that asked not to receive anything more over one send method."""

    class Source(models.TextChoices):
        LINK = "link", _("unsubscribe link")
        SMS = "sms", _("SMS reply")
        TELEGRAM = "telegram", _("Telegram command")
        STAFF = "staff", _("staff")

    method = models.CharField(_("send method"), max_length=32)
    address = models.CharField(_("address"), max_length=255, help_text=_("Normalized, as the method stores it."))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.STAFF)
    created_at = models.DateTimeField(_("opted out at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [models.UniqueConstraint(fields=["method", "address"], name="optout_once_per_method")]

    def __str__(self) -> str:
        return f"{self.address} ({self.method})"


class ScheduledBroadcast(models.Model):
    """A broadcast planned for later: everything needed to commit it, kept editable until a
    worker starts it at `send_at` (scheduling.py)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        STARTED = "started", _("started")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scheduled_broadcasts",
                               verbose_name=_("sent by"))
    send_at = models.DateTimeField(_("send at"), db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    request_hash = models.CharField(_("request hash"), max_length=64, blank=True, editable=False,
                                    help_text=_("SHA-256 of the request that used the idempotency key."))
    selection = models.JSONField(_("selection"), default=dict)
    methods = models.JSONField(_("send methods"), default=list)
    typology = models.ForeignKey(MessageTypology, on_delete=models.PROTECT, null=True, blank=True,
                                 verbose_name=_("typology"))
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("body"))
    transliterate = models.BooleanField(_("SMS: transliterate to GSM-7"), default=False)
    attachments = models.ManyToManyField(MessageAttachment, blank=True, verbose_name=_("attachments"))
    broadcast = models.OneToOneField(Broadcast, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="schedule", verbose_name=_("broadcast"))
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        verbose_name = _("scheduled broadcast")
        verbose_name_plural = _("scheduled broadcasts")

    def __str__(self) -> str:
        return self.subject or self.body[:60]

    def get_absolute_url(self) -> str:
        return reverse("sender_api:schedule", args=[self.pk])

    @property
    def editable(self) -> bool:
        return self.status == self.Status.SCHEDULED
