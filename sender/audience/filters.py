"""One FilterSet per recipient model: a text search plus the model's own filter fields.

"Everyone matching this filter" is this FilterSet applied to the posted query string,
so the picker and the pipeline select exactly the same rows.
"""

from functools import cache

import django_filters
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _

from sender.audience import textindex
from sender.audience.mixin import to_many
from sender.search import SearchFilter, terms


class RecipientFilterSet(django_filters.FilterSet):
    q = SearchFilter(label=_("Search"), method="search")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every word in one of the model's `sender_search_fields`, through the text index
        where the model has one (sender.audience.textindex). A field across a to-many relation
        (a contact's numbers) would list a person once per match: such a search goes through
        a subquery of ids."""
        model = self._meta.model
        condition = textindex.search(model, terms(value), using=queryset.db)
        if any(to_many(model, f) for f in getattr(model, "sender_search_fields", [])):
            return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))
        return queryset.filter(condition)


@cache
def filterset_for(model: type[Model]) -> type[RecipientFilterSet]:
    """The model's own `sender_filterset_class`, or one built from its `sender_filter_fields`."""
    custom = getattr(model, "sender_filterset_class", None)
    if custom is not None:
        return custom
    return django_filters.filterset.filterset_factory(
        model, filterset=RecipientFilterSet, fields=list(getattr(model, "sender_filter_fields", []))
    )
