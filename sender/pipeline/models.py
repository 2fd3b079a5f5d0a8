"""What the pipeline keeps between requests: saved message templates, and broadcasts planned for later."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from sender.audience.placeholders import check_template
from sender.channels.base import BODY_FORMATS
from sender.models import Broadcast, MessageAttachment, MessageTypology


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
        check_template(self.subject, self.body)


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
    body_format = models.CharField(_("email body"), max_length=16, choices=BODY_FORMATS, default="plain")
    attachments = models.ManyToManyField(MessageAttachment, blank=True, verbose_name=_("attachments"))
    # Who the broadcast will be billed to (as Broadcast.billee), handed to it when it starts.
    billee_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name=_("billee type"))
    billee_id = models.CharField(_("billee id"), max_length=64, blank=True)
    billee = GenericForeignKey("billee_type", "billee_id")
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
        return reverse("sender:schedule", args=[self.pk])

    @property
    def editable(self) -> bool:
        return self.status == self.Status.SCHEDULED
