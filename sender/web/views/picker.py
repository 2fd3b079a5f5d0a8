"""The recipient picker: one tab per recipient model, a filtered, sorted, paginated table.

Only rows the user may see ever appear; the same FilterSet decides "everyone matching",
so what the table counts is what the pipeline sends to.
"""

from django.core.paginator import Paginator
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse

from sender.access import staff_required
from sender.audience.filters import filterset_for
from sender.audience.registry import get_recipient_model
from sender.audience.mixin import to_many
from sender.audience.resolve import ADDRESS_KINDS, addresses_of, visible
from sender.exceptions import SelectionError

PAGE_SIZE = 25
CONTROL_PARAMS = {"page", "sort"}


def tab(model: type[Model], user) -> dict:
    label = model._meta.label_lower
    return {"label": label, "name": model._meta.verbose_name_plural, "url": reverse("sender:picker", args=[label])}


def address_kinds(model: type[Model]) -> list[str]:
    """The address kinds a record may have several of (a to-many field path): the picker shows
    them all, so staff see every number a person will be texted at."""
    return [kind for kind in ADDRESS_KINDS if (path := model.get_fieldpath(kind)) and to_many(model, path)]


def columns(model: type[Model]) -> list[tuple[str, str]]:
    names = getattr(model, "sender_list_display", None) or ["pk"]
    return [(name, model._meta.pk.verbose_name if name == "pk" else model._meta.get_field(name).verbose_name)
            for name in names]


NAME_COLUMNS = frozenset({"name", "first_name", "last_name", "full_name", "surname", "given_name"})


def lead_columns(names: list[str]) -> int:
    """How many leading columns name the person (at least one): on a phone they make the
    row's first line, the other values go below."""
    lead = 0
    while lead < len(names) and names[lead] in NAME_COLUMNS:
        lead += 1
    return max(lead, 1)


@staff_required
def picker(request: HttpRequest, label: str) -> HttpResponse:
    try:
        model = get_recipient_model(label)
    except SelectionError:
        raise Http404 from None
    cols = columns(model)
    names = [name for name, _title in cols]
    related = [n for n in names if n != "pk" and model._meta.get_field(n).is_relation]
    queryset = visible(model, request.user)
    if related:
        queryset = queryset.select_related(*related)
    filterset = filterset_for(model)(request.GET, queryset=queryset)
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    sort = request.GET.get("sort", "")
    if sort.lstrip("-") in names:
        queryset = queryset.order_by(sort, "pk")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    kinds = address_kinds(model)
    found = addresses_of(model, [obj.pk for obj in page.object_list], kinds)  # one query per kind
    filters = QueryDict(mutable=True)
    for key, values in request.GET.lists():
        kept = [v for v in values if v.strip()]
        if key not in CONTROL_PARAMS and kept:
            filters.setlist(key, kept)
    return render(request, "sender/_picker.html", {
        "label": label, "model_name": model._meta.verbose_name_plural, "filterset": filterset,
        "columns": cols, "sort": sort, "page": page, "lead": lead_columns(names), "address_columns": [ADDRESS_KINDS[kind] for kind in kinds],
        "colspan": len(cols) + len(kinds) + 1,
        "rows": [(obj.pk, [getattr(obj, n) for n in names],
                  [found[str(obj.pk)].get(kind, []) for kind in kinds]) for obj in page.object_list],
        "filter_query": filters.urlencode(), "query": request.GET.urlencode(),
    })
