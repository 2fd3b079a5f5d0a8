"""Choosing who pays on the compose page: the billee models, a search among one of them, and
the billee already chosen, as radio buttons the compose form posts."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sender.access import sender_required
from sender.audience.billees import billee_label, billee_models, parse_billee_label, search_billees
from sender.exceptions import SelectionError
from sender.search import MAX_LENGTH
from sender.web.forms import BilleeSearchForm


def billee_kinds() -> list[tuple[str, str]]:
    """(label, plural name) of every model a billee may be chosen from, for the select."""
    return [(label, str(model._meta.verbose_name_plural)) for label, model in billee_models().items()]


def billee_option(billee: Model) -> dict[str, str]:
    return {"value": billee_label(billee), "name": str(billee), "kind": str(billee._meta.verbose_name)}


def billee_choices(user: AbstractBaseUser, label: str = "", text: str = "", current: str = "",
                   searched: bool = False) -> dict:
    """What the billee box shows: the current choice first (kept through every search, and
    dropped if the user may not bill it), then the matches of `text` among `label`'s rows."""
    try:
        chosen = parse_billee_label(current or "", user)
    except SelectionError:
        chosen = None
    options = [billee_option(chosen)] if chosen is not None else []
    matches = search_billees(label, text[:MAX_LENGTH], user) if searched else None
    if matches is not None:
        options += [billee_option(b) for b in matches.found if chosen is None or b != chosen]
    return {"kinds": billee_kinds(), "options": options, "chosen": options[0]["value"] if chosen is not None else "",
            "chosen_model": chosen._meta.label_lower if chosen is not None else "",
            "searched": searched, "more": matches.more if matches else 0,
            "found": len(matches.found) if matches else 0}


@sender_required
@require_GET
def billee_search(request: HttpRequest) -> HttpResponse:
    """The billee box after the model or the search changed (htmx swaps it in); a search the
    form refuses (too many words, a NUL) says why instead of searching."""
    form = BilleeSearchForm(request.GET)
    if not form.is_valid():
        current = "" if "billee" in form.errors else form.cleaned_data.get("billee", "")
        billing = {**billee_choices(request.user, current=current), "errors": [e for es in form.errors.values() for e in es]}
    else:
        data = form.cleaned_data
        billing = billee_choices(request.user, data["billee_model"], data["billee_q"], data["billee"], searched=True)
    return render(request, "sender/_billee_choices.html", {"billing": billing})
