"""The text search of every list (recipient picker, history, inbox, the API's filters): words
AND-ed together, each matched in several columns.

Each word adds a condition to the SQL, so the number of words and the length are capped:
a thousand words made SQLite refuse the query ("Expression tree is too large") after
seconds of CPU. Past the cap the form says so; the query never runs.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from sender.inputs import validate_text

MAX_TERMS = 10
MAX_LENGTH = 200


def terms(value: str) -> list[str]:
    """The words of a search (already checked by SearchField)."""
    return value.split()


TRIGRAM = 3  # the shortest word the SQLite index can find; shorter ones are scanned for


def broadcast_text(words: list[str], path: str = "") -> Q:
    """Broadcasts (reached through `path`, e.g. "message_sent__broadcast__") whose subject or
    body contains every word, case-insensitively. SQLite asks its FTS5 trigram index
    (sender_broadcast_fts, migration 0003) for the words it can; PostgreSQL's `icontains`
    uses its trigram GIN indexes on the same expressions."""
    q = Q()
    indexed = [w for w in words if len(w) >= TRIGRAM] if connection.vendor == "sqlite" else []
    if indexed:
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        q &= Q(**{f"{path}pk__in": RawSQL(
            "SELECT rowid FROM sender_broadcast_fts WHERE sender_broadcast_fts MATCH %s", [match])})
    for word in words:
        if word not in indexed:
            q &= Q(**{f"{path}subject__icontains": word}) | Q(**{f"{path}body__icontains": word})
    return q


def validate_terms(value: str) -> None:
    if len(terms(value)) > MAX_TERMS:
        raise ValidationError(
            ngettext_lazy("Search for at most %(max)d word.", "Search for at most %(max)d words.", MAX_TERMS),
            code="too_many_terms", params={"max": MAX_TERMS})


class SearchField(forms.CharField):
    """At most MAX_TERMS words and MAX_LENGTH characters; the help text says so."""

    default_validators = [validate_terms, validate_text]

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", MAX_LENGTH)
        kwargs.setdefault("help_text", _("Up to %(terms)d words, %(chars)d characters; all must match.")
                          % {"terms": MAX_TERMS, "chars": MAX_LENGTH})
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        # No maxlength attribute: a browser would cut a pasted search silently instead of saying why.
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class SearchFilter(django_filters.CharFilter):
    """A CharFilter whose field is a SearchField; the FilterSet's `method` gets valid text only."""

    field_class = SearchField
