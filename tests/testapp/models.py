"""A project's own recipient models, as docs/recipients.md shows: students and their parents."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from sender.audience.mixin import NOBODY, RecipientMixin
from sender.permissions import is_staff


class School(models.Model):
    name = models.CharField(max_length=100)
    # No database constraint: this app has no migrations, so its tables are created before
    # auth_user exists, which PostgreSQL (unlike SQLite) checks at once.
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, db_constraint=False)

    def __str__(self) -> str:
        return self.name


class Parent(RecipientMixin):
    name = models.CharField(max_length=100)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    telegram_chat_id = None

    telegram_fieldpath = None

    def __str__(self) -> str:
        return self.name


class Student(RecipientMixin):
    name = models.CharField(max_length=100)
    school_email = models.CharField(max_length=254, blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    school = models.ForeignKey(School, on_delete=models.PROTECT)
    parents = models.ManyToManyField(Parent, blank=True)

    email_fieldpath = "school_email"
    sms_fieldpath = "mobile"
    telegram_fieldpath = None
    email_related = ["parents"]
    sender_search_fields = ["name"]
    sender_filter_fields = ["school"]

    @classmethod
    def get_filters_viewers(cls, user, **kwargs) -> Q:
        if not is_staff(user):
            return NOBODY
        return Q() if user.is_superuser else Q(school__staff=user)

    def __str__(self) -> str:
        return self.name


class Contact(RecipientMixin):
    """One person reached at several numbers and addresses (RapidSMS's Connection): each
    PhoneNumber and EmailAddress row is an address of its own."""

    name = models.CharField(max_length=100)
    telegram_chat_id = models.CharField(max_length=32, blank=True)

    email_fieldpath = "emails__address"
    sms_fieldpath = "phones__number"
    telegram_fieldpath = "telegram_chat_id"
    sender_list_display = ["name"]
    sender_search_fields = ["name", "phones__number"]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PhoneNumber(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=32)
    label = models.CharField(max_length=20, blank=True)  # "mobile", "work"...


class EmailAddress(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    address = models.CharField(max_length=254)
