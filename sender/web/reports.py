"""Cost report and invoicing: sums per period, method, sender and billee, computed by the database.

A period is a run of calendar months in the current time zone: 1 (monthly), 2, 3, 6 or 12.
Its number inside the year is `(month - 1) / months` in integer arithmetic, so every
grouping is one GROUP BY over the per-method rows (`MessageSent`, which carry their own
counters and cost): the report never reads a recipient row, and Python only formats the
few result rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import (
    Count,
    DecimalField,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext_lazy, ngettext

from sender.channels import methods
from sender.formats import money
from sender.models import MessageSent
from sender.pipeline.cancel import ACTIVE
from sender.web.filters import billee_names

PERIODS: dict[str, int] = {"monthly": 1, "bimonthly": 2, "quarterly": 3, "half-yearly": 6, "yearly": 12}
PERIOD_CHOICES = [
    ("monthly", gettext_lazy("monthly")), ("bimonthly", gettext_lazy("bimonthly")),
    ("quarterly", gettext_lazy("quarterly")), ("half-yearly", gettext_lazy("half-yearly")),
    ("yearly", gettext_lazy("yearly")),
]
GROUPS: dict[str, tuple[str, ...]] = {
    "method": ("method",),
    "sender": ("broadcast__sender__username", "broadcast__sender"),  # sorted by name
    "billee": ("broadcast__billee_type", "broadcast__billee_id"),  # named, and sorted by name, afterwards
}
GROUP_CHOICES = [
    ("", gettext_lazy("period only")), ("method", gettext_lazy("method")), ("sender", gettext_lazy("sender")),
    ("method,sender", gettext_lazy("method and sender")), ("billee", gettext_lazy("billee")),
    ("method,billee", gettext_lazy("method and billee")),
]

MONEY = DecimalField(max_digits=14, decimal_places=4)
ZERO = Value(Decimal(0), output_field=MONEY)
# Addresses that went (or are going) out; invalid, duplicate and opted-out rows were never sent.
MESSAGES = F("pending_count") + F("sent_count") + F("delivered_count") + F("failed_count") + F("unknown_count")


@dataclass(frozen=True, order=True)
class Period:
    """`part` counts from 0 inside `year`: quarter 3 of 2025 is Period("quarterly", 2025, 2)."""
    kind: str
    year: int
    part: int

    def __post_init__(self) -> None:
        if self.kind not in PERIODS or not 0 <= self.part < 12 // PERIODS[self.kind]:
            raise ValueError(f"No {self.kind!r} period number {self.part}.")

    @property
    def months(self) -> int:
        return PERIODS[self.kind]

    @property
    def first_month(self) -> int:
        return self.part * self.months + 1

    def start(self) -> datetime:
        """Midnight of the first day, in the current time zone (where the grouping happens)."""
        return timezone.make_aware(datetime(self.year, self.first_month, 1))

    def end(self) -> datetime:
        """The next period's start: ranges are half-open, so no instant falls in two periods."""
        return self.next().start()

    def next(self) -> "Period":
        if self.part + 1 < 12 // self.months:
            return Period(self.kind, self.year, self.part + 1)
        return Period(self.kind, self.year + 1, 0)

    @property
    def label(self) -> str:
        if self.kind == "yearly":
            return str(self.year)
        first = MONTHS_3[self.first_month].title()
        if self.kind == "monthly":
            return f"{first} {self.year}"
        last = MONTHS_3[self.first_month + self.months - 1].title()
        return f"{first}–{last} {self.year}"


@dataclass
class ReportRow:
    """One period (and method and/or sender, when grouped) with its sums."""
    period: Period
    broadcasts: int
    messages: int
    delivered: int
    failed: int
    cost: Decimal
    uninvoiced: Decimal
    open_rows: int
    active_rows: int = 0
    last_invoiced_at: datetime | None = None
    method: str | None = None
    sender_id: int | None = None
    sender: str | None = None
    sent: int = 0  # taken by the gateway, not (yet) confirmed delivered
    billee_type_id: int | None = None
    billee_id: str = ""
    billee: str | None = None
    """The billee's name ("" for sends billed to nobody) when grouped by billee."""

    @property
    def method_label(self) -> str:

        if self.method is None:
            return ""
        return str(methods[self.method].label) if self.method in methods.settings else self.method


def parse_groups(value: str) -> tuple[str, ...]:
    """"method,billee" → ("method", "billee"); unknown names are dropped."""
    return tuple(name for name in GROUPS if name in value.split(","))


SUMS = ("broadcasts", "messages", "sent", "delivered", "failed", "cost", "uninvoiced", "open_rows", "active_rows",
        "last_invoiced_at")


def _sums() -> dict:
    """The aggregates, named `sum_*`: an annotation may not reuse a field's name (`cost`)."""
    return {
        "sum_broadcasts": Count("broadcast", distinct=True),
        "sum_messages": Coalesce(Sum(MESSAGES), 0),
        "sum_sent": Coalesce(Sum("sent_count"), 0),
        "sum_delivered": Coalesce(Sum("delivered_count"), 0),
        "sum_failed": Coalesce(Sum("failed_count"), 0),
        "sum_cost": Coalesce(Sum("cost"), ZERO, output_field=MONEY),
        "sum_uninvoiced": Coalesce(Sum("cost", filter=Q(invoiced=False)), ZERO, output_field=MONEY),
        "sum_open_rows": Count("pk", filter=Q(invoiced=False) & ~Q(status__in=ACTIVE)),
        "sum_active_rows": Count("pk", filter=Q(invoiced=False, status__in=ACTIVE)),
        "sum_last_invoiced_at": Max("invoiced_at"),
    }


def _unprefixed(row: dict) -> dict:
    return {name: row[f"sum_{name}"] for name in SUMS}


def cost_report(queryset: QuerySet[MessageSent], kind: str, groups: Sequence[str] = ()) -> list[ReportRow]:
    """Sums per period (and per method and/or sender), oldest first: one GROUP BY query.

    The period is a grouping expression, not a Python loop: the local year, and the local
    month's index inside it divided by the period's length in months (integer division),
    so bimonthly, quarterly and half-yearly group as easily as monthly and yearly.
    """
    months = PERIODS[kind]
    names = [name for group in groups for name in GROUPS[group]]
    rows = (
        queryset.order_by()
        # Cast: PostgreSQL's EXTRACT is numeric, and the division must stay an integer one.
        .annotate(year=Cast(ExtractYear("created_at"), IntegerField()),
                  part=(Cast(ExtractMonth("created_at"), IntegerField()) - 1) / months)
        .values("year", "part", *names)
        .annotate(**_sums())
        .order_by("year", "part", *names)
    )
    found = [
        ReportRow(
            period=Period(kind, row["year"], row["part"]), **_unprefixed(row),
            method=row.get("method"), sender_id=row.get("broadcast__sender"),
            sender=row.get("broadcast__sender__username"),
            billee_type_id=row.get("broadcast__billee_type"), billee_id=row.get("broadcast__billee_id") or "",
        )
        for row in rows
    ]
    if "billee" in groups:
        names = billee_names((r.billee_type_id, r.billee_id) for r in found if r.billee_type_id)
        for r in found:
            r.billee = names[(r.billee_type_id, r.billee_id)] if r.billee_type_id else ""
        # Nobody first, then by name, inside each period (and method): the order staff read.
        found.sort(key=lambda r: (r.period, r.method or "", r.sender or "", bool(r.billee_type_id), r.billee.lower()))
    return found


def totals(queryset: QuerySet[MessageSent]) -> dict:
    """The same sums over everything the report covers: one query."""
    return _unprefixed(queryset.order_by().aggregate(**_sums()))


def fill_gaps(rows: list[ReportRow]) -> list[ReportRow]:
    """Ungrouped rows with the empty periods in between, for a time axis that does not lie."""
    if not rows:
        return []
    found = {row.period: row for row in rows}
    filled, period = [], rows[0].period
    while period <= rows[-1].period:
        filled.append(found.get(period) or ReportRow(period, 0, 0, 0, 0, Decimal(0), Decimal(0), 0))
        period = period.next()
    return filled


@dataclass(frozen=True)
class Invoiced:
    rows: int
    """Per-method sends (MessageSent) stamped."""
    cost: Decimal
    still_active: int
    messages: int = 0
    """Messages that went out in those sends: what staff count."""
    stamp: datetime | None = None
    """When they were stamped: the key to undo exactly this invoicing."""


def mark_invoiced(queryset: QuerySet[MessageSent], period: Period, user: AbstractBaseUser) -> Invoiced:
    """Mark the finished, not yet invoiced rows of `period` invoiced by `user`: one UPDATE.

    Rows already invoiced keep their first invoice (so nothing is counted twice); rows
    still queued or sending are left out, as their cost may still grow. The total is read
    back from the rows this UPDATE stamped, so it is exactly what was invoiced.
    """
    in_period = queryset.filter(created_at__gte=period.start(), created_at__lt=period.end(), invoiced=False)
    now = timezone.now()
    with transaction.atomic():
        count = in_period.exclude(status__in=ACTIVE).update(invoiced=True, invoiced_at=now, invoiced_by=user)
        totals = MessageSent.objects.filter(invoiced_at=now, invoiced_by=user).aggregate(
            cost=Coalesce(Sum("cost"), ZERO, output_field=MONEY), messages=Coalesce(Sum(MESSAGES), 0))
    return Invoiced(count, totals["cost"], in_period.filter(status__in=ACTIVE).count(), totals["messages"],
                    now if count else None)


def undo_invoiced(stamp: datetime, user: AbstractBaseUser) -> int:
    """Take back one invoicing by `user` (the rows stamped at `stamp`); how many sends it freed."""
    return MessageSent.objects.filter(invoiced=True, invoiced_at=stamp, invoiced_by=user).update(
        invoiced=False, invoiced_at=None, invoiced_by=None)


def describe(invoiced: Invoiced, period: Period) -> str:
    """The sentence staff read after invoicing: messages, as the report counts them."""
    text = ngettext("%(period)s: %(n)d message marked invoiced, %(cost)s.",
                    "%(period)s: %(n)d messages marked invoiced, %(cost)s.", invoiced.messages) % {
        "period": period.label, "n": invoiced.messages, "cost": money(invoiced.cost)}
    if invoiced.still_active:
        text += " " + ngettext("%(n)d still sending was left out; invoice it when it finishes.",
                               "%(n)d still sending were left out; invoice them when they finish.",
                               invoiced.still_active) % {"n": invoiced.still_active}
    return text
