"""One FilterSet per recipient model: a text search plus the model's own filter fields.

"Everyone matching this filter" is this FilterSet applied to the posted query string,
so the picker and the pipeline select exactly the same rows.
"""

from functools import cache, reduce
from operator import or_

import django_filters
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from sender.audience.mixin import to_many
from sender.search import SearchFilter, terms


class RecipientFilterSet(django_filters.FilterSet):
    q = SearchFilter(label=_("Search"), method="search")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        model = self._meta.model
        fields = getattr(model, "sender_search_fields", [])
        # A field across a to-many relation (a contact's numbers) would list a person once per
        # match: such a search goes through a subquery of ids.
        many = any(to_many(model, f) for f in fields)
        for term in terms(value):
            condition = reduce(or_, (Q(**{f"{f}__icontains": term}) for f in fields), Q())
            if many:
                queryset = queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))
            else:
                queryset = queryset.filter(condition)
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
