"""Resolve a selection into recipients and their raw addresses, streamed.

One query per recipient model (plus one per related path), always filtered by the
user's visibility (`get_filters_viewers`): explicit ids outside it are refused.
"""

from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sender.audience.filters import filterset_for
from sender.audience.registry import get_recipient_model
from sender.audience.selection import ModelSelection, Selection
from sender.exceptions import InvalidFilter, SelectionError
from sender.inputs import parse_pk

CHUNK = 5000

Resolved = tuple[int, str, dict[str, str | None], str | None]
"""(content type id, object id, {address kind: raw address}, only kind) for one recipient.

"Only kind" is set for related recipients: they receive over that kind's methods only."""


def visible(model: type[Model], user: AbstractBaseUser) -> QuerySet:
    return model._default_manager.filter(model.get_filters_viewers(user))


def selected_queryset(part: ModelSelection, user: AbstractBaseUser) -> QuerySet:
    """The rows of one model that `part` selects, within what `user` may see."""
    model = get_recipient_model(part.label)
    queryset = visible(model, user)
    if part.filter is not None:
        filterset = filterset_for(model)(QueryDict(part.filter), queryset=queryset)
        if not filterset.is_valid():
            problems = [f"{field}: {' '.join(errs)}" for field, errs in filterset.errors.items()]
            raise InvalidFilter([_("Invalid filter for %(model)s.") % {"model": model._meta.verbose_name_plural}, *problems])
        return filterset.qs
    ids = _parse_ids(model, part.ids)
    found = set(queryset.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + ("…" if len(missing) > 10 else "")
        raise SelectionError(
            ngettext(
                "%(n)d selected %(model)s does not exist or is not visible to you: %(ids)s.",
                "%(n)d selected %(model)s do not exist or are not visible to you: %(ids)s.",
                len(missing),
            ) % {"n": len(missing), "ids": shown,
                 "model": model._meta.verbose_name if len(missing) == 1 else model._meta.verbose_name_plural}
        )
    return queryset.filter(pk__in=ids)


def _parse_ids(model: type[Model], ids: tuple[str, ...]) -> list:
    try:
        return [parse_pk(model, i) for i in ids]
    except ValidationError as exc:
        raise SelectionError(_("“%(ids)s” is not a valid list of ids.") % {"ids": ", ".join(ids[:5])}) from exc


def find_visible(label: str, pk: str, user: AbstractBaseUser) -> Model | None:
    """The recipient `label`/`pk` if the user may see it; None for an unknown model, an id
    that is not one (“abc”, 10**30) or a row outside the user's visibility."""
    try:
        model = get_recipient_model(label)
        return visible(model, user).filter(pk=parse_pk(model, pk)).first()
    except (SelectionError, ValidationError):
        return None


def resolve(selection: Selection, user: AbstractBaseUser, kinds: set[str]) -> Iterator[Resolved]:
    """Yield every selected recipient, then their related recipients, with the addresses
    of `kinds` ("email", "sms", "telegram"). Visibility is checked up front for every
    part, so a refused id raises before anything is yielded."""
    querysets = [(get_recipient_model(p.label), selected_queryset(p, user)) for p in selection.parts]
    ordered = sorted(kinds)
    for model, queryset in querysets:
        yield from _stream(model, queryset, ordered)
        for kind in ordered:
            for path in model.get_related(kind):
                related = model._meta.get_field(path.split("__")[0]).related_model
                for part in path.split("__")[1:]:
                    related = related._meta.get_field(part).related_model
                related_qs = visible(related, user).filter(pk__in=queryset.values(path))
                yield from _stream(related, related_qs, [kind], only=kind)


def _stream(model: type[Model], queryset: QuerySet, kinds: list[str], only: str | None = None) -> Iterator[Resolved]:
    ct_id = ContentType.objects.get_for_model(model).pk
    paths = [model.get_fieldpath(kind) for kind in kinds]
    present = [(kind, path) for kind, path in zip(kinds, paths) if path]
    columns = [path for _kind, path in present]
    absent = {kind: None for kind, path in zip(kinds, paths) if not path}
    for row in queryset.order_by("pk").values_list("pk", *columns).iterator(chunk_size=CHUNK):
        addresses = dict(absent)
        for (kind, _path), value in zip(present, row[1:]):
            addresses[kind] = value
        yield ct_id, str(row[0]), addresses, only
