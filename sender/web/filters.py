"""FilterSets for the history list, a broadcast's recipient rows and the cost report.

Querysets in, querysets out: the views hand in what the user may see (`visible_broadcasts`)
and render `.qs`. Filters on the per-method rows use `Exists`, so a broadcast sent over two
methods is never listed twice and no DISTINCT is needed.
"""

from collections.abc import Iterable

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sender.audience.people import name_of, records
from sender.channels import methods
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageTypology
from sender.search import SearchFilter, broadcast_text, terms

WITH_FAILED_ROWS = "with_failed"
"""History status choice: broadcasts with at least one failed recipient row."""


def method_choices() -> list[tuple[str, str]]:
    """Configured methods, read when the form is built (settings may change in tests)."""
    return methods.choices()


def broadcast_status_choices() -> list[tuple[str, str]]:
    return [*MessageSent.Status.choices, (WITH_FAILED_ROWS, _("with failed recipients"))]


def senders(request: HttpRequest | None = None) -> QuerySet:
    """Only users who sent something: the choice list stays short however many accounts exist.
    (django-filter calls a queryset callable with the filterset's request.)"""
    return get_user_model().objects.filter(
        Exists(Broadcast.objects.filter(sender=OuterRef("pk")))
    ).order_by(get_user_model().USERNAME_FIELD)


def _sents_of(query: Q) -> Exists:
    return Exists(MessageSent.objects.filter(query, broadcast=OuterRef("pk")))


class BroadcastFilterSet(django_filters.FilterSet):
    """The history list. The sender filter is dropped for users who only see their own."""

    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", label=_("Sent between"),
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    method = django_filters.ChoiceFilter(label=_("Method"), choices=method_choices, method="filter_method")
    typology = django_filters.ModelChoiceFilter(label=_("Typology"), queryset=MessageTypology.objects.all())
    sender = django_filters.ModelChoiceFilter(label=_("Sent by"), queryset=senders)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=broadcast_status_choices,
                                         method="filter_status")
    q = SearchFilter(label=_("Text"), method="search")

    class Meta:
        model = Broadcast
        fields: tuple[str, ...] = ()

    def __init__(self, *args, show_sender: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not show_sender:
            del self.filters["sender"]

    def filter_method(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(_sents_of(Q(method=value)))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == WITH_FAILED_ROWS:
            return queryset.filter(_sents_of(Q(failed_count__gt=0)))
        return queryset.filter(_sents_of(Q(status=value)))

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(broadcast_text(terms(value)))


class RecipientRowFilterSet(django_filters.FilterSet):
    """A broadcast's recipient rows, by status and method; shared by the page and the CSV."""

    status = django_filters.ChoiceFilter(label=_("Status"), choices=MessageRecipient.Status.choices)
    method = django_filters.ChoiceFilter(label=_("Method"), field_name="message_sent__method",
                                         choices=method_choices)

    class Meta:
        model = MessageRecipient
        fields: tuple[str, ...] = ()


class CostFilterSet(django_filters.FilterSet):
    """What the cost report adds up: per-method rows, by date, method, sender, typology."""

    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", label=_("Sent between"),
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    method = django_filters.ChoiceFilter(label=_("Method"), choices=method_choices)
    sender = django_filters.ModelChoiceFilter(label=_("Sent by"), field_name="broadcast__sender", queryset=senders)
    typology = django_filters.ModelChoiceFilter(label=_("Typology"), field_name="broadcast__typology",
                                                queryset=MessageTypology.objects.all())
    billee = django_filters.ChoiceFilter(label=_("Billed to"), method="filter_billee", empty_label=_("anyone"))
    invoiced = django_filters.BooleanFilter(label=_("Invoiced"), widget=forms.Select(
        choices=[("", _("either")), ("true", _("invoiced")), ("false", _("not yet invoiced"))]))

    class Meta:
        model = MessageSent
        fields: tuple[str, ...] = ()

    def __init__(self, *args, show_sender: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not show_sender:
            del self.filters["sender"]
        # The billees of what the user may see, by name (one query, and one per billee model).
        self.filters["billee"].extra["choices"] = billee_choices(self.queryset)

    def filter_billee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        key = parse_billee(value)
        if key is None:
            return queryset.filter(broadcast__billee_type__isnull=True)
        return queryset.filter(broadcast__billee_type_id=key[0], broadcast__billee_id=key[1])


NO_BILLEE = "none"
"""The billee choice for sends billed to nobody."""


def billee_value(type_id: int | None, object_id: str) -> str:
    """How a billee travels in a query string: "<content type id>:<object id>", or "none"."""
    return f"{type_id}:{object_id}" if type_id else NO_BILLEE


def parse_billee(value: str) -> tuple[int, str] | None:
    """The (content type id, object id) of a billee value; None for "none"."""
    type_id, _sep, object_id = value.partition(":")
    return (int(type_id), object_id) if type_id.isdigit() else None


def billee_names(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """The name of each billee, one query per model; a deleted one is named by its type and id."""
    keys = set(keys)
    found = {key: name_of(record) for key, record in records(keys).items()}
    for type_id, object_id in keys - set(found):
        found[(type_id, object_id)] = f"{ContentType.objects.get_for_id(type_id).name} {object_id}"
    return found


def billee_choices(sents: QuerySet[MessageSent]) -> list[tuple[str, str]]:
    keys = set(sents.order_by().filter(broadcast__billee_type__isnull=False)
               .values_list("broadcast__billee_type", "broadcast__billee_id").distinct())
    names = billee_names(keys)
    choices = sorted(((billee_value(*key), names[key]) for key in keys), key=lambda choice: choice[1].lower())
    return [(NO_BILLEE, _("nobody")), *choices]
