"""The cost report and invoicing: sums per period, method and sender computed by the database
and checked against rows made here; a server-rendered SVG chart; marking a period invoiced
needs its permission, records who and when, and never counts a row twice."""

import re
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sender.models import MessageSent
from sender.web.reports import Period, cost_report, fill_gaps, mark_invoiced
from tests.factories import customers
from tests.history_world import at, backdate, grant, send, settle

REPORT = reverse("sender:report")
INVOICE = reverse("sender:invoice")


def sent_at(user, when: datetime, n: int, unit: str, methods=("email",), **kwargs) -> list[MessageSent]:
    """A finished broadcast to n new customers at `when`, every row costing `unit`."""
    broadcast = send(user, customers(n, city=f"c{when:%Y%m%d%H}{n}"), methods, **kwargs)
    backdate(broadcast, when)
    return [settle(sent, unit_cost=Decimal(unit)) for sent in broadcast.sents.all()]


@pytest.fixture
def year(sender_user):
    """2025 for sally: 2 emails at 0.10 in January, 3 in February at 0.10, 1 in April at 0.50,
    4 in July at 0.25, 1 in December at 1.00; and one in January 2026."""
    sent_at(sender_user, at(2025, 1, 5), 2, "0.10")
    sent_at(sender_user, at(2025, 2, 5), 3, "0.10")
    sent_at(sender_user, at(2025, 4, 5), 1, "0.50")
    sent_at(sender_user, at(2025, 7, 5), 4, "0.25")
    sent_at(sender_user, at(2025, 12, 5), 1, "1.00")
    sent_at(sender_user, at(2026, 1, 5), 2, "0.05")
    return sender_user


def table(rows) -> list[tuple]:
    return [(row.period.label, row.broadcasts, row.messages, row.cost) for row in rows]


def get_report(client, **params):
    response = client.get(REPORT, params)
    assert response.status_code == 200
    return response


# --- who may see it ---------------------------------------------------------------------------

def test_the_report_is_for_staff(client, outsider):
    assert client.get(REPORT)["Location"].startswith(reverse("login"))
    client.force_login(outsider)
    assert client.get(REPORT).status_code == 403


def test_staff_see_the_costs_of_their_own_broadcasts_only(client, sender_user, perm_user):
    sent_at(sender_user, at(2025, 3, 1), 2, "0.10")
    sent_at(perm_user, at(2025, 3, 2), 3, "1.00")
    client.force_login(sender_user)
    response = get_report(client)
    assert table(response.context["rows"]) == [("Mar 2025", 1, 2, Decimal("0.20"))]
    assert "sender" not in response.context["filterset"].form.fields
    viewer = grant(perm_user, "view_all_messages")
    client.force_login(viewer)
    assert table(get_report(client).context["rows"]) == [("Mar 2025", 2, 5, Decimal("3.20"))]


# --- sums per period ------------------------------------------------------------------------------

@pytest.mark.parametrize("period, expected", [
    ("monthly", [("Jan 2025", 1, 2, "0.20"), ("Feb 2025", 1, 3, "0.30"), ("Apr 2025", 1, 1, "0.50"),
                 ("Jul 2025", 1, 4, "1.00"), ("Dec 2025", 1, 1, "1.00"), ("Jan 2026", 1, 2, "0.10")]),
    ("bimonthly", [("Jan–Feb 2025", 2, 5, "0.50"), ("Mar–Apr 2025", 1, 1, "0.50"), ("Jul–Aug 2025", 1, 4, "1.00"),
                   ("Nov–Dec 2025", 1, 1, "1.00"), ("Jan–Feb 2026", 1, 2, "0.10")]),
    ("quarterly", [("Jan–Mar 2025", 2, 5, "0.50"), ("Apr–Jun 2025", 1, 1, "0.50"), ("Jul–Sep 2025", 1, 4, "1.00"),
                   ("Oct–Dec 2025", 1, 1, "1.00"), ("Jan–Mar 2026", 1, 2, "0.10")]),
    ("half-yearly", [("Jan–Jun 2025", 3, 6, "1.00"), ("Jul–Dec 2025", 2, 5, "2.00"), ("Jan–Jun 2026", 1, 2, "0.10")]),
    ("yearly", [("2025", 5, 11, "3.00"), ("2026", 1, 2, "0.10")]),
])
def test_costs_add_up_per_period(client, year, period, expected):
    client.force_login(year)
    response = get_report(client, period=period)
    assert table(response.context["rows"]) == [(label, b, m, Decimal(c)) for label, b, m, c in expected]
    assert response.context["totals"]["cost"] == Decimal("3.10")
    assert response.context["totals"]["messages"] == 13


def test_periods_follow_the_local_calendar(sender_user):
    """23:30 on 31 March in Rome is 21:30 UTC, still March; 00:30 on 1 April is April."""
    sent_at(sender_user, timezone.make_aware(datetime(2025, 3, 31, 23, 30)), 1, "1")
    sent_at(sender_user, timezone.make_aware(datetime(2025, 4, 1, 0, 30)), 1, "2")
    assert table(cost_report(MessageSent.objects.all(), "monthly")) == [
        ("Mar 2025", 1, 1, Decimal(1)), ("Apr 2025", 1, 1, Decimal(2))]
    assert table(cost_report(MessageSent.objects.all(), "quarterly")) == [
        ("Jan–Mar 2025", 1, 1, Decimal(1)), ("Apr–Jun 2025", 1, 1, Decimal(2))]


def test_costs_grouped_by_method_and_sender(client, sender_user, perm_user):
    sent_at(sender_user, at(2025, 5, 1), 2, "0.10", methods=("email", "storage"))
    sent_at(perm_user, at(2025, 5, 2), 3, "0.20")
    viewer = grant(perm_user, "view_all_messages")
    client.force_login(viewer)
    rows = get_report(client, period="yearly", group="method,sender").context["rows"]
    assert [(r.method, r.sender, r.messages, r.cost) for r in rows] == [
        ("email", "paul", 3, Decimal("0.60")), ("email", "sally", 2, Decimal("0.20")),
        ("storage", "sally", 2, Decimal("0.20"))]
    by_sender = get_report(client, period="yearly", group="sender").context["rows"]
    assert [(r.sender, r.broadcasts, r.messages, r.cost) for r in by_sender] == [
        ("paul", 1, 3, Decimal("0.60")), ("sally", 1, 4, Decimal("0.40"))]
    only_paul = get_report(client, period="yearly", sender=perm_user.pk).context["rows"]
    assert table(only_paul) == [("2025", 1, 3, Decimal("0.60"))]


def test_report_filters_by_date_and_method(client, year):
    client.force_login(year)
    rows = get_report(client, period="yearly", created_after="2025-02-01", created_before="2025-07-31").context["rows"]
    assert table(rows) == [("2025", 3, 8, Decimal("1.80"))]
    assert get_report(client, method="storage").context["rows"] == []


def test_a_bad_report_query_is_explained(client, year):
    client.force_login(year)
    response = get_report(client, period="weekly", created_after="yesterday")
    assert response.context["rows"] == []
    assert "Enter a valid date." in response.text and "Select a valid choice" in response.text


def test_report_queries_do_not_grow_with_broadcasts(client, sender_user):
    viewer = grant(sender_user, "view_all_messages", "mark_invoiced")
    for month in (1, 2, 3):
        sent_at(viewer, at(2025, month), 1, "0.10", methods=("email", "storage"))
    client.force_login(viewer)
    client.get(REPORT)
    with CaptureQueriesContext(connection) as few:
        get_report(client, period="monthly", group="method")
    for n in range(27):
        sent_at(viewer, at(2025, 1 + n % 3, 1 + n), 1, "0.10", methods=("email", "storage"))
    with CaptureQueriesContext(connection) as many:
        response = get_report(client, period="monthly", group="method")
    assert sum(r.broadcasts for r in response.context["rows"] if r.method == "email") == 30
    assert len(many) == len(few)
    # The sums are GROUP BY queries on the per-method rows; no recipient row is read.
    assert not any("sender_messagerecipient" in q["sql"] for q in many.captured_queries)
    assert any("GROUP BY" in q["sql"] for q in many.captured_queries)


# --- chart ---------------------------------------------------------------------------------------------

def test_the_chart_is_inline_svg_with_a_bar_per_period_gaps_included(client, year):
    client.force_login(year)
    page = get_report(client, period="quarterly").text
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert "<script" not in page.split('<main id="content" tabindex="-1">')[1].split("</main>")[0]
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>', svg)
    # Five quarters from Jan 2025 to Mar 2026, the empty ones drawn as empty bars.
    assert [b.split(":")[0] for b in bars] == ["Jan–Mar 2025", "Apr–Jun 2025", "Jul–Sep 2025", "Oct–Dec 2025",
                                               "Jan–Mar 2026"]
    assert bars[0] == "Jan–Mar 2025: 5 messages, €\xa00.50"
    assert svg.count('class="cost-dot"') == 5 and 'class="cost-line"' in svg


def test_fill_gaps_adds_empty_periods():
    from sender.web.reports import ReportRow

    rows = [ReportRow(Period("monthly", 2025, 10), 1, 1, 1, 0, Decimal(1), Decimal(1), 1),
            ReportRow(Period("monthly", 2026, 1), 1, 2, 2, 0, Decimal(2), Decimal(2), 1)]
    assert [(r.period.label, r.messages) for r in fill_gaps(rows)] == [
        ("Nov 2025", 1), ("Dec 2025", 0), ("Jan 2026", 0), ("Feb 2026", 2)]


# --- invoicing ---------------------------------------------------------------------------------------------

def invoice(client, kind: str, year_: int, part: int, **filters):
    return client.post(INVOICE, {"kind": kind, "year": year_, "part": part, **filters}, follow=True)


def test_invoicing_needs_the_permission(client, year, nosend_user):
    client.force_login(year)
    page = get_report(client)
    assert not page.context["may_invoice"] and "Mark invoiced" not in page.text
    assert invoice(client, "yearly", 2025, 0).status_code == 403
    assert not MessageSent.objects.filter(invoiced=True).exists()
    assert client.get(INVOICE).status_code == 405


def test_invoicing_a_quarter_records_who_and_when_and_totals_its_rows(client, year):
    accountant = grant(year, "mark_invoiced")
    client.force_login(accountant)
    assert "Mark invoiced" in get_report(client, period="quarterly").text
    before = timezone.now()
    response = invoice(client, "quarterly", 2025, 0)
    assert "Jan–Mar 2025: 5 messages marked invoiced, €\xa00.50." in response.text
    invoiced = MessageSent.objects.filter(invoiced=True)
    assert set(invoiced.values_list("broadcast__created_at__month", flat=True)) == {1, 2}
    assert {(s.invoiced_by, s.invoiced_at >= before) for s in invoiced} == {(accountant, True)}
    rows = {r.period.label: r for r in get_report(client, period="quarterly").context["rows"]}
    assert rows["Jan–Mar 2025"].uninvoiced == 0 and rows["Apr–Jun 2025"].uninvoiced == Decimal("0.50")
    assert rows["Jan–Mar 2025"].last_invoiced_at >= before and rows["Apr–Jun 2025"].last_invoiced_at is None
    assert response.context["totals"]["uninvoiced"] == Decimal("2.60")


def test_a_mistaken_invoicing_can_be_undone_and_only_that_one(client, year):
    accountant = grant(year, "mark_invoiced")
    client.force_login(accountant)
    invoice(client, "monthly", 2025, 0)  # January
    january = MessageSent.objects.get(invoiced=True)
    response = invoice(client, "monthly", 2025, 1)  # February, by mistake
    assert "Undo my last" in response.text
    assert MessageSent.objects.filter(invoiced=True).count() == 2
    response = client.post(reverse("sender:uninvoice"), {"next_query": "period=monthly"}, follow=True)
    assert "no longer marked invoiced" in response.text and "Undo my last" not in response.text
    assert list(MessageSent.objects.filter(invoiced=True)) == [january]  # January keeps its invoice
    again = client.post(reverse("sender:uninvoice"), follow=True)
    assert "no invoicing of yours left to undo" in again.text
    assert MessageSent.objects.filter(invoiced=True).count() == 1


def test_invoiced_rows_are_never_invoiced_twice(client, year):
    accountant = grant(year, "mark_invoiced")
    client.force_login(accountant)
    invoice(client, "monthly", 2025, 0)  # January: 0.20
    first = MessageSent.objects.get(invoiced=True)
    stamp = (first.invoiced_at, first.invoiced_by_id)
    response = invoice(client, "half-yearly", 2025, 0)  # Jan–Jun: only Feb and Apr are new
    assert "Jan–Jun 2025: 4 messages marked invoiced, €\xa00.80." in response.text
    first.refresh_from_db()
    assert (first.invoiced_at, first.invoiced_by_id) == stamp  # January keeps its first invoice
    again = invoice(client, "half-yearly", 2025, 0)
    assert "0 messages marked invoiced, €\xa00.00." in again.text
    half = {r.period.label: r for r in get_report(client, period="half-yearly").context["rows"]}
    assert (half["Jan–Jun 2025"].cost, half["Jan–Jun 2025"].uninvoiced) == (Decimal("1.00"), Decimal(0))


def test_invoicing_leaves_out_what_is_still_sending_and_other_filters(sender_user):
    done = sent_at(sender_user, at(2025, 9, 1), 2, "0.30", methods=("email", "storage"))
    sending = send(sender_user, customers(1, city="x"), ["email"])
    backdate(sending, at(2025, 9, 2))
    settle(sending.sents.get(), unit_cost=Decimal("5"), status=MessageSent.Status.SENDING)
    queryset = MessageSent.objects.filter(method="email")
    result = mark_invoiced(queryset, Period("monthly", 2025, 8), sender_user)
    assert (result.rows, result.messages, result.cost, result.still_active) == (1, 2, Decimal("0.60"), 1)
    email, storage = sorted(done, key=lambda s: s.method)
    assert MessageSent.objects.get(pk=email.pk).invoiced
    assert not MessageSent.objects.get(pk=storage.pk).invoiced  # another method: not in the filter
    assert not MessageSent.objects.get(broadcast=sending).invoiced


def test_invoicing_only_touches_what_the_user_may_see(client, sender_user, perm_user):
    sent_at(sender_user, at(2025, 6, 1), 1, "1")
    theirs = sent_at(perm_user, at(2025, 6, 2), 1, "2")[0]
    client.force_login(grant(sender_user, "mark_invoiced"))
    response = invoice(client, "yearly", 2025, 0)
    assert "1 message marked invoiced, €\xa01.00." in response.text
    assert not MessageSent.objects.get(pk=theirs.pk).invoiced


def test_a_bad_period_changes_nothing(client, year):
    client.force_login(grant(year, "mark_invoiced"))
    response = invoice(client, "quarterly", 2025, 7)
    assert response.status_code == 200
    assert "Nothing was invoiced" in response.text
    assert not MessageSent.objects.filter(invoiced=True).exists()


def test_period_boundaries():
    q = Period("quarterly", 2025, 3)
    assert (q.start(), q.end()) == (timezone.make_aware(datetime(2025, 10, 1)),
                                    timezone.make_aware(datetime(2026, 1, 1)))
    assert Period("bimonthly", 2025, 5).label == "Nov–Dec 2025"
    with pytest.raises(ValueError):
        Period("half-yearly", 2025, 2)


@pytest.mark.parametrize("value, ceiling", [(0, 1), (7, 10), (22, 25), (26, 50), (100, 100), (101, 200),
                                            (0.3, 0.5), (0.0013, 0.002)])
def test_chart_axes_end_on_round_numbers(value, ceiling):
    from sender.web.charts import nice_ceiling

    assert nice_ceiling(value) == pytest.approx(ceiling)
