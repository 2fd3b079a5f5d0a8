"""Resolve a selection into recipients and their raw addresses, streamed.

One query per recipient model (plus one per related path, and one per address path that
crosses a to-many relation), always filtered by the user's visibility
(`get_filters_viewers`): explicit ids outside it are refused.

An address path may cross a to-many relation ("phones__number": one person, several
numbers, as RapidSMS's Connection): each address is then its own recipient row. Such a
path is read by a query of its own, so two to-many paths never multiply each other's rows.
"""

from collections.abc import Iterable, Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext

from sender.audience.filters import filterset_for
from sender.audience.mixin import to_many
from sender.audience.registry import get_recipient_model
from sender.audience.selection import ModelSelection, Selection
from sender.exceptions import InvalidFilter, SelectionError
from sender.inputs import parse_pk

CHUNK = 5000

Resolved = tuple[int, str, dict[str, str | None], str | None]
"""(content type id, object id, {address kind: raw address}, only kind) for one recipient.

"Only kind" is set for related recipients and for each address of a to-many path: they
receive over that kind's methods only. A kind missing from the dict is not read from
this tuple (a to-many path: its addresses come in tuples of their own)."""


ADDRESS_KINDS = {"email": gettext_lazy("email addresses"), "sms": gettext_lazy("phone numbers"),
                 "telegram": gettext_lazy("Telegram chats")}
"""Every address kind a recipient model may declare, with the title lists of them show."""


def addresses_of(model: type[Model], pks: Iterable, kinds: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """{str(pk): {kind: [every non-empty address, in order]}} for a page of records: one query
    per kind, for lists that must show every number and address of a person."""
    found: dict[str, dict[str, list[str]]] = {str(pk): {} for pk in pks}
    for kind in kinds:
        path = model.get_fieldpath(kind)
        if not path or not found:
            continue
        rows = model._default_manager.filter(pk__in=list(found)).order_by("pk", *_tie(model, path))
        for pk, value in rows.values_list("pk", path):
            if value not in (None, "") and value not in (values := found[str(pk)].setdefault(kind, [])):
                values.append(str(value))
    return found


def _tie(model: type[Model], path: str) -> list[str]:
    """Order a to-many path's values as their rows were made (the first number first)."""
    prefix = path.rsplit("__", 1)[0]
    return [f"{prefix}__pk"] if "__" in path and to_many(model, path) else []


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
    many = [(kind, path) for kind, path in zip(kinds, paths) if path and to_many(model, path)]
    present = [(kind, path) for kind, path in zip(kinds, paths) if path and (kind, path) not in many]
    columns = [path for _kind, path in present]
    absent = {kind: None for kind, path in zip(kinds, paths) if not path}
    for row in queryset.order_by("pk").values_list("pk", *columns).iterator(chunk_size=CHUNK):
        addresses = dict(absent)
        for (kind, _path), value in zip(present, row[1:]):
            addresses[kind] = value
        yield ct_id, str(row[0]), addresses, only
    for kind, path in many:
        # One row per address (a LEFT JOIN: a person with none yields one empty value, "no address").
        # Through a subquery: a filter on the same relation must not narrow the addresses sent to.
        every = model._default_manager.filter(pk__in=queryset.values("pk"))
        values = every.order_by("pk", *_tie(model, path)).values_list("pk", path)
        for pk, value in values.iterator(chunk_size=CHUNK):
            yield ct_id, str(pk), {kind: value}, kind
