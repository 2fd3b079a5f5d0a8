"""One FilterSet per recipient model: a text search plus the model's own filter fields.

"Everyone matching this filter" is this FilterSet applied to the posted query string,
so the picker and the pipeline select exactly the same rows.
"""

from functools import cache, reduce
from operator import or_

import django_filters
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from sender.search import SearchFilter, terms


class RecipientFilterSet(django_filters.FilterSet):
    q = SearchFilter(label=_("Search"), method="search")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        fields = getattr(self._meta.model, "sender_search_fields", [])
        for term in terms(value):
            queryset = queryset.filter(reduce(or_, (Q(**{f"{f}__icontains": term}) for f in fields), Q()))
        return queryset


@cache
def filterset_for(model: type[Model]) -> type[RecipientFilterSet]:
    """The model's own `sender_filterset_class`, or one built from its `sender_filter_fields`."""
    custom = getattr(model, "sender_filterset_class", None)
    if custom is not None:
        return custom
    return django_filters.filterset.filterset_factory(
        model, filterset=RecipientFilterSet, fields=list(getattr(model, "sender_filter_fields", []))
    )
