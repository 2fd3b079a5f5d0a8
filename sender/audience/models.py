"""The default recipient models (a project may list its own instead, README), and opt-outs:
the addresses that asked for no more messages over one method."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sender.audience.mixin import NOBODY, RecipientMixin
from sender.permissions import is_staff


class Customer(RecipientMixin):
    """A customer. Staff see the customers without an owner and those they own; nobody else any."""

    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    telegram_chat_id = models.CharField(_("Telegram chat id"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("account manager"),
    )
    user = models.OneToOneField(  # SENDER["RECIPIENT_USER"]: who reads this record's stored messages
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("login account"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    sender_list_display = ["last_name", "first_name", "email", "phone", "city"]
    sender_search_fields = ["first_name", "last_name", "email", "phone"]
    sender_filter_fields = ["city"]

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [models.Index(fields=["last_name", "first_name", "id"], name="customer_name_order")]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [("view_all_customers", _("Can see and send to every customer"))]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @classmethod
    def get_filters_viewers(cls, user, **kwargs) -> Q:
        if not is_staff(user):
            return NOBODY
        if user.is_superuser or user.has_perm("recipients.view_all_customers"):
            return Q()
        return Q(owner__isnull=True) | Q(owner=user.pk)


class ExternalSubjectTypology(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("external subject typology")
        verbose_name_plural = _("external subject typologies")

    def __str__(self) -> str:
        return self.name


class ExternalSubject(RecipientMixin):
    """A supplier, partner or other outside party."""

    name = models.CharField(_("name"), max_length=200)
    typology = models.ForeignKey(
        ExternalSubjectTypology, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("typology")
    )
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    telegram_chat_id = models.CharField(_("Telegram chat id"), max_length=32, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=32, blank=True)
    user = models.OneToOneField(  # SENDER["RECIPIENT_USER"]: who reads this record's stored messages
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("login account"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    sender_list_display = ["name", "typology", "email", "phone"]
    sender_search_fields = ["name", "email", "phone", "vat_number"]
    sender_filter_fields = ["typology"]

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name", "id"], name="externalsubject_name_order")]
        verbose_name = _("external subject")
        verbose_name_plural = _("external subjects")

    def __str__(self) -> str:
        return self.name


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


class Audience(models.Model):
    """A saved selection, shared by staff: what was ticked per model, or "everyone matching"
    as its filter, so the audience is resolved again at every send (people who match later
    are included). Every sender may use it; its owner or an administrator renames or deletes it."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    selection = models.JSONField(_("selection"), help_text=_("Per recipient model: ticked ids or a filter."))
    described = models.JSONField(_("filters in words"), default=dict, blank=True,
                                 help_text=_("Per recipient model, the filter as the picker showed it."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="audiences", verbose_name=_("owner"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved audience")
        verbose_name_plural = _("saved audiences")

    def __str__(self) -> str:
        return self.name
