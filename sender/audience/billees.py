"""Who a broadcast is billed to, when a face names it by "app_label.model" and id.

Code may bill any saved object (`send_text(..., billee=company)`). The API and the
`broadcast` command name one by label and id, so what they may name is bounded: a recipient
model (within what the user may see, as everywhere else) or a model listed in
`SENDER["BILLEE_MODELS"]` (a customer's company, a cost centre...).
"""

from dataclasses import dataclass
from functools import cache, reduce
from operator import and_, or_

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db.models import CharField, Model, Q, QuerySet
from django.dispatch import receiver
from django.utils.translation import gettext as _

from sender.audience.filters import filterset_for
from sender.audience.registry import recipient_models
from sender.audience.resolve import find_visible, visible
from sender.conf import sender_settings
from sender.exceptions import InvalidRecipientModel, SelectionError
from sender.inputs import parse_pk
from sender.search import MAX_TERMS, terms


@cache
def billee_models() -> dict[str, type[Model]]:
    """"app_label.model" (lower case) → model, for every model a billee may be named from."""
    found = dict(recipient_models())
    for name in sender_settings.BILLEE_MODELS:
        try:
            model = apps.get_model(name)
        except (LookupError, ValueError) as exc:
            raise InvalidRecipientModel(f'SENDER["BILLEE_MODELS"]: no model "{name}" ({exc}).') from exc
        found[model._meta.label_lower] = model
    return found


def find_billee(label: str, pk: object, user: AbstractBaseUser) -> Model:
    """The object `label`/`pk` names, or a SelectionError a user can read. Recipients must be
    visible to `user`; other billee models are matched by id alone."""
    model = billee_models().get(str(label).lower())
    if model is None:
        raise SelectionError(_("“%(label)s” is not something a message can be billed to.") % {"label": label})
    if model._meta.label_lower in recipient_models():
        found = find_visible(label, str(pk), user)
    else:
        try:
            found = model._default_manager.filter(pk=parse_pk(model, str(pk))).first()
        except ValidationError:
            found = None
    if found is None:
        raise SelectionError(_("There is no %(model)s %(id)s to bill.") % {"model": model._meta.verbose_name, "id": pk})
    return found


def billee_label(billee: Model) -> str:
    """How a face names a billee: "app_label.model:id" (the `broadcast` command's --billee)."""
    return f"{billee._meta.label_lower}:{billee.pk}"


def parse_billee_label(value: str, user: AbstractBaseUser) -> Model | None:
    """The billee "app_label.model:id" names, checked as `find_billee` checks it; None for "".
    A value without a colon is a SelectionError."""
    value = (value or "").strip()
    if not value:
        return None
    label, sep, pk = value.partition(":")
    if not sep or not label or not pk:
        raise SelectionError(_("Choose who to bill from the list."))
    return find_billee(label, pk, user)


@dataclass(frozen=True)
class BilleeMatches:
    """One page of a billee search: the first `found` matches of `total`."""

    found: list[Model]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.found)


BILLEE_MATCHES = 10
"""How many matches a billee search shows: enough to choose, few enough to read; a longer
list asks for one more word."""


def billee_queryset(model: type[Model], user: AbstractBaseUser, text: str) -> QuerySet:
    """The rows of a billee model that match `text` and that `user` may bill: a recipient
    model through the picker's own search within what the user may see; another model through
    its `sender_search_fields`, or else its text columns."""
    words = terms(text)[:MAX_TERMS]
    if model._meta.label_lower in recipient_models():
        queryset = visible(model, user)
        if not words:
            return queryset
        filterset = filterset_for(model)({"q": " ".join(words)}, queryset=queryset)
        return filterset.qs if filterset.is_valid() else queryset.none()
    queryset = model._default_manager.all()
    fields = list(getattr(model, "sender_search_fields", None) or
                  [f.name for f in model._meta.concrete_fields if isinstance(f, CharField) and not f.choices])
    if not words or not fields:
        return queryset if not words else queryset.none()
    return queryset.filter(reduce(and_, (reduce(or_, (Q(**{f"{f}__icontains": w}) for f in fields)) for w in words)))


def search_billees(label: str, text: str, user: AbstractBaseUser, limit: int = BILLEE_MATCHES) -> BilleeMatches:
    """The first `limit` billees of the model `label` matching `text` (every word), in the
    model's own order; nothing for a model that may not be billed."""
    model = billee_models().get(str(label).lower())
    if model is None:
        return BilleeMatches([], 0)
    queryset = billee_queryset(model, user, text)
    if not queryset.query.order_by and not model._meta.ordering:
        queryset = queryset.order_by("pk")
    found = list(queryset[:limit])
    total = len(found) if len(found) < limit else queryset.count()
    return BilleeMatches(found, total)
def named_billee(named: dict | None, user: AbstractBaseUser) -> Model | None:
    """The billee a request names as {"model": "app_label.model", "id": ...}, or None if it
    names none. Preview and send both call it, so a billee a send would refuse is refused
    before anything is sent."""
    if not named:
        return None
    return find_billee(named["model"], named["id"], user)


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs) -> None:
    if setting == "SENDER":
        billee_models.cache_clear()
