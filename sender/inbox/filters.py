"""The inbox's filters: typology and a text search over subject and body."""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from sender.models import MessageRecipient, MessageTypology
from sender.search import SearchFilter, broadcast_text, terms


class InboxFilterSet(django_filters.FilterSet):
    """Applied to the person's received rows (`messages.received`), before paging."""

    typology = django_filters.ModelChoiceFilter(
        field_name="message_sent__broadcast__typology", queryset=MessageTypology.objects.all(),
        label=_("Typology"), empty_label=_("All typologies"),
    )
    q = SearchFilter(label=_("Search"), method="search")

    class Meta:
        model = MessageRecipient
        fields = ["typology", "q"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(broadcast_text(terms(value), "message_sent__broadcast__"))
