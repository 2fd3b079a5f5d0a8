"""The cost report (table and chart) and "mark a period invoiced". Staff only.

The sums come from `sender.web.reports`; this module parses the query, checks permissions
and renders. Users see the costs of the broadcasts they may see.
"""

import csv
import io
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sender.access import staff_required, visible_broadcasts
from sender.models import Broadcast, MessageSent
from sender.web.charts import chart
from sender.web.filters import CostFilterSet, billee_value
from sender.web.views.history import csv_cell
from sender.web.reports import (
    GROUP_CHOICES,
    PERIOD_CHOICES,
    PERIODS,
    Period,
    ReportRow,
    cost_report,
    describe,
    fill_gaps,
    mark_invoiced,
    parse_groups,
    totals,
    undo_invoiced,
)

UNDO_KEY = "sender_last_invoice"
"""The session keeps the stamp of the user's last invoicing, so the report can offer its undo."""
FILTER_PARAMS = ("created_after", "created_before", "method", "sender", "typology", "billee", "invoiced")


class ReportOptions(forms.Form):
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIOD_CHOICES, required=False)
    group = forms.ChoiceField(label=gettext_lazy("Group by"), choices=GROUP_CHOICES, required=False)


class InvoiceForm(forms.Form):
    """Which period to invoice; the report's filters travel with it."""

    kind = forms.ChoiceField(choices=[(k, k) for k in PERIODS])
    year = forms.IntegerField(min_value=1970, max_value=9999)
    part = forms.IntegerField(min_value=0, max_value=11)

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            try:
                data["period"] = Period(data["kind"], data["year"], data["part"])
            except ValueError:
                raise forms.ValidationError(_("There is no such period.")) from None
        return data


def visible_sents(user: AbstractBaseUser) -> QuerySet[MessageSent]:
    """What the user may see, without the tests staff sent themselves (no recipient was reached)."""
    return MessageSent.objects.filter(broadcast__in=visible_broadcasts(user)).exclude(
        broadcast__origin=Broadcast.Origin.TEST)


def invoice_fields(row: ReportRow, filters: QueryDict, groups: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Hidden inputs for one row's invoice button: its period and group, within the report's filters."""
    fields = {key: filters[key] for key in FILTER_PARAMS if filters.get(key)}
    if row.method:
        fields["method"] = row.method
    if row.sender_id:
        fields["sender"] = str(row.sender_id)
    if "billee" in groups:  # billed to nobody is a group too: invoicing it leaves the billees' rows alone
        fields["billee"] = billee_value(row.billee_type_id, row.billee_id)
    fields.update(kind=row.period.kind, year=str(row.period.year), part=str(row.period.part))
    return list(fields.items())


@staff_required
def report(request: HttpRequest) -> HttpResponse:
    view_all = request.user.has_perm("sender.view_all_messages")
    filterset = CostFilterSet(request.GET, queryset=visible_sents(request.user), show_sender=view_all)
    options = ReportOptions(request.GET)
    valid = filterset.is_valid() and options.is_valid()
    queryset = filterset.qs if valid else filterset.queryset.none()
    kind = (options.cleaned_data.get("period") if valid else "") or "monthly"
    groups = parse_groups(options.cleaned_data.get("group", "") if valid else "")
    rows = cost_report(queryset, kind, groups)
    if request.GET.get("format") == "csv":
        return report_csv(rows, groups)
    may_invoice = request.user.has_perm("sender.mark_invoiced")
    if may_invoice:
        for row in rows:
            row.invoice_fields = invoice_fields(row, request.GET, groups)
    overall = rows if not groups else cost_report(queryset, kind)
    return render(request, "sender/report.html", {
        "filterset": filterset, "options_list": [options], "rows": rows, "groups": groups, "totals": totals(queryset),
        "chart": chart(fill_gaps(overall)), "may_invoice": may_invoice, "kind": kind,
        "query": request.GET.urlencode(), "may_undo": may_invoice and UNDO_KEY in request.session,
    })


def report_csv(rows: list[ReportRow], groups: tuple[str, ...]) -> HttpResponse:
    """The report's rows as CSV (what the page shows, for invoicing elsewhere): the groups'
    names, not their ids, so a billee reads as it does on the page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    named = [("method", _("method")), ("sender", _("sent by")), ("billee", _("billed to"))]
    writer.writerow([_("period"), *[title for group, title in named if group in groups], _("broadcasts"),
                     _("messages"), _("sent"), _("delivered"), _("failed"), _("cost"), _("not yet invoiced")])
    for row in rows:
        values = {"method": row.method_label, "sender": row.sender or "", "billee": row.billee or ""}
        writer.writerow([row.period.label, *[csv_cell(values[group]) for group, _title in named if group in groups],
                         row.broadcasts, row.messages, row.sent, row.delivered, row.failed, f"{row.cost:.4f}",
                         f"{row.uninvoiced:.4f}"])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="costs.csv"'
    return response


@staff_required
@require_POST
def invoice(request: HttpRequest) -> HttpResponse:
    """Mark one period (within the report's filters) invoiced; needs `sender.mark_invoiced`."""
    if not request.user.has_perm("sender.mark_invoiced"):
        raise PermissionDenied(_("You may not mark costs as invoiced."))
    view_all = request.user.has_perm("sender.view_all_messages")
    form = InvoiceForm(request.POST)
    filterset = CostFilterSet(request.POST, queryset=visible_sents(request.user), show_sender=view_all)
    if not (form.is_valid() and filterset.is_valid()):
        messages.error(request, _("Nothing was invoiced: the period or the filters are not valid."))
    else:
        period = form.cleaned_data["period"]
        done = mark_invoiced(filterset.qs, period, request.user)
        messages.success(request, describe(done, period))
        if done.stamp:
            request.session[UNDO_KEY] = done.stamp.isoformat()
    return _back_to_report(request)


@staff_required
@require_POST
def uninvoice(request: HttpRequest) -> HttpResponse:
    """Undo the user's last "Mark invoiced" (a mistaken click): exactly the rows it stamped."""
    if not request.user.has_perm("sender.mark_invoiced"):
        raise PermissionDenied(_("You may not mark costs as invoiced."))
    stamp = request.session.pop(UNDO_KEY, None)
    freed = undo_invoiced(datetime.fromisoformat(stamp), request.user) if stamp else 0
    if freed:
        messages.success(request, _("Undone: those costs are no longer marked invoiced."))
    else:
        messages.error(request, _("There is no invoicing of yours left to undo."))
    return _back_to_report(request)


def _back_to_report(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("next_query", "")
    return redirect(reverse("sender:report") + (f"?{query}" if query else ""))
