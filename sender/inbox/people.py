"""Who a recipient is: the recipient records that belong to a Django user.

`SENDER["RECIPIENT_USER"]` says how a record is tied to a user, for every recipient model:

- the name of a field (or ORM path) on the model pointing at the user model, default
  "user"; models without it simply have no readers, or
- the dotted path of a function `resolver(model, user) -> Q | None` that returns which rows
  of `model` are `user`'s (None: none of them), for projects that link people their own way.

Everything here is set-based: one query per recipient model, whatever the user has.
"""

from collections.abc import Callable
from functools import cache

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q
from django.utils.module_loading import import_string

from sender.audience.registry import recipient_models
from sender.conf import sender_settings

Records = dict[int, list[str]]
"""{content type id: [object ids as MessageRecipient stores them]} for one person."""


@cache
def _resolver(path: str) -> Callable[[type[Model], AbstractBaseUser], Q | None]:
    return import_string(path)


def user_field(model: type[Model]) -> str | None:
    """The field path linking `model` to a user, when the setting names a field the model has."""
    setting = sender_settings.RECIPIENT_USER
    if not setting or "." in setting:
        return None
    opts = model._meta
    for part in setting.split("__"):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.related_model is None:
            return None
        opts = field.related_model._meta
    return setting


def rows_of(model: type[Model], user: AbstractBaseUser | AnonymousUser) -> Q | None:
    """Which rows of `model` are `user`'s, as a Q; None when the model has no readers."""
    if not user.is_authenticated:
        return None
    setting = sender_settings.RECIPIENT_USER
    if setting and "." in setting:
        return _resolver(setting)(model, user)
    field = user_field(model)
    return Q(**{field: user.pk}) if field else None


def records_for(user: AbstractBaseUser | AnonymousUser) -> Records:
    """Every recipient record of `user`, across the recipient models (one query per model)."""
    found: Records = {}
    for model in recipient_models().values():
        q = rows_of(model, user)
        if q is None:
            continue
        ids = [str(pk) for pk in model._default_manager.filter(q).values_list("pk", flat=True)]
        if ids:
            found[ContentType.objects.get_for_model(model).pk] = ids
    return found


def addressed_to(records: Records) -> Q:
    """A Q on MessageRecipient matching rows addressed to any of `records` (never everything)."""
    q = Q(pk__in=[])
    for ct_id, ids in records.items():
        q |= Q(content_type_id=ct_id, object_id=ids[0]) if len(ids) == 1 else Q(content_type_id=ct_id, object_id__in=ids)
    return q


def linked_user(record: Model) -> AbstractBaseUser | None:
    """The user a record is linked to through the configured field, if any."""
    field = user_field(type(record))
    if not field or "__" in field:
        return None
    return getattr(record, field)
