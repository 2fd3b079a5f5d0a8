"""The recipient mixin: what a model declares to become something Sender can send to.

Kept close to the ancestor's API (`get_email`, `get_email_fieldpath()`, ...), with one
change that makes it set-based: the pipeline never calls a per-row accessor. It reads
the *field paths* in one `values_list` query per model, and follows the *related paths*
(`get_email_related()`) with one query per relation.
"""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import Q

from sender.permissions import is_staff

NOBODY = Q(pk__in=[])
"""The visibility of a user who may see no recipient at all."""


def _follow(obj: Any, path: str) -> Any:
    """The value at `path`; through a to-many relation, its first value (by the related row's id)."""
    parts = path.split("__")
    for i, part in enumerate(parts):
        if obj is None:
            return None
        obj = getattr(obj, part)
        if isinstance(obj, models.Manager):  # a related manager: several addresses, one asked for
            rest = "__".join(parts[i + 1:])
            return obj.order_by("pk").values_list(rest, flat=True).first() if rest else None
    return obj


def to_many(model: type[models.Model], path: str) -> bool:
    """Whether the ORM path crosses a to-many relation, so one record may have several values."""
    for part in path.split("__"):
        field = model._meta.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        if not field.is_relation:
            return False
        model = field.related_model
    return False


class RecipientMixin(models.Model):
    """Use on any model, list the model in `SENDER["RECIPIENT_MODELS"]`, and it can be sent to.

    Override the `*_fieldpath` attributes to point at the fields holding each address
    (any ORM path, e.g. "contact__mobile"); None means the model has no such address.
    `*_related` lists relations (ORM paths from this model) whose objects also receive
    the message, e.g. a student's parents.
    """

    email_fieldpath: ClassVar[str | None] = "email"
    sms_fieldpath: ClassVar[str | None] = "phone"
    telegram_fieldpath: ClassVar[str | None] = "telegram_chat_id"
    email_related: ClassVar[list[str]] = []
    sms_related: ClassVar[list[str]] = []
    telegram_related: ClassVar[list[str]] = []

    # How the picker lists and filters the model (issue: dashboard).
    sender_list_display: ClassVar[list[str]] = []
    sender_search_fields: ClassVar[list[str]] = []
    sender_filter_fields: ClassVar[list[str]] = []

    class Meta:
        abstract = True

    @classmethod
    def get_email_fieldpath(cls) -> str | None:
        return cls.email_fieldpath

    @classmethod
    def get_sms_fieldpath(cls) -> str | None:
        return cls.sms_fieldpath

    @classmethod
    def get_telegram_fieldpath(cls) -> str | None:
        return cls.telegram_fieldpath

    @classmethod
    def get_fieldpath(cls, kind: str) -> str | None:
        return getattr(cls, f"get_{kind}_fieldpath")()

    @classmethod
    def get_email_related(cls) -> list[str]:
        return list(cls.email_related)

    @classmethod
    def get_sms_related(cls) -> list[str]:
        return list(cls.sms_related)

    @classmethod
    def get_telegram_related(cls) -> list[str]:
        return list(cls.telegram_related)

    @classmethod
    def get_related(cls, kind: str) -> list[str]:
        return getattr(cls, f"get_{kind}_related")()

    @classmethod
    def get_filters_viewers(cls, user: AbstractBaseUser | AnonymousUser, **kwargs: Any) -> Q:
        """Which rows `user` may see and send to. Default: every row for active staff, none
        for anyone else (recipients log in too: they must never browse the others).

        Must return a Q usable on this model's queryset; the pipeline, the picker and every
        staff page apply it, so an id outside it is refused. An override should start with
        `if not is_staff(user): return NOBODY` (`sender.permissions.is_staff`, `NOBODY` here).
        """
        return Q() if is_staff(user) else NOBODY

    @property
    def get_email(self) -> str | None:
        return _follow(self, self.email_fieldpath) if self.email_fieldpath else None

    @property
    def get_sms(self) -> str | None:
        return _follow(self, self.sms_fieldpath) if self.sms_fieldpath else None

    @property
    def get_telegram(self) -> str | None:
        return _follow(self, self.telegram_fieldpath) if self.telegram_fieldpath else None

    def get_representation(self) -> str:
        return str(self)
