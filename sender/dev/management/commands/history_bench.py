"""Measure the history pages' server time and query count on the current database.

    DATABASE_URL=sqlite:////tmp/history.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/history.sqlite3 python manage.py history_bench --seed 1000000

`--seed N` first writes N recipient rows: one big broadcast holding `--big` of them (email),
the rest spread over `--broadcasts` broadcasts across the last two years (email, and
storage for every third), 90% delivered, 5% failed, 3% invalid, 2% duplicate, with the
counters and costs the pipeline would leave. Rows go in with `executemany` (seeding is not
what is measured). Then it times the history list, the big broadcast's first row page, a
recipient's history, the yearly and monthly reports, and streams the big broadcast's CSV
once (not a test; figures for BENCHMARKS.md).
"""

import json
import resource
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sender.audience.models import Customer
from sender.dev.pages import time_page
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.operations import refresh_statistics

USER = "history-bench"
CHUNK = 10_000
PRICE = Decimal("0.01")
# Out of every 100 rows: 90 delivered, 5 failed, 3 invalid, 2 duplicate.
MIX = [("sent", 90), ("failed", 5), ("invalid", 3), ("duplicate", 2)]
REASONS = {"failed": "550 5.1.1 No such user", "invalid": "Not an email address.",
           "duplicate": "Same address as another recipient of this message."}


class Command(BaseCommand):
    help = "Median server time and queries of history, broadcast rows and cost report (not a test)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="Write this many recipient rows first.")
        parser.add_argument("--broadcasts", type=int, default=2000)
        parser.add_argument("--big", type=float, default=0.5, help="Share of the rows in the one big broadcast.")
        parser.add_argument("--customers", type=int, default=50_000)
        parser.add_argument("--repeat", type=int, default=7)
        parser.add_argument("--no-csv", action="store_true", help="Skip streaming the big broadcast's CSV.")

    def handle(self, *args, seed: int, broadcasts: int, big: float, customers: int, repeat: int, no_csv: bool,
               **options) -> None:
        if seed:
            started = time.perf_counter()
            seed_history(seed, broadcasts, big, customers)
            self.stderr.write(f"seeded {seed} rows in {time.perf_counter() - started:.1f} s")
        refresh_statistics()  # as sender_periodic does hourly (the planner's statistics)
        user = get_user_model().objects.filter(username=USER).first()
        if user is None:
            raise CommandError(f"No user {USER!r}: run with --seed N first.")
        largest = MessageSent.objects.order_by("-sent_count").first()
        row = MessageRecipient.objects.filter(message_sent=largest).first()
        client = Client()
        client.force_login(user)
        cases = [
            ("history, first page", reverse("sender:history"), {}),
            ("history, email with failed rows", reverse("sender:history"), {"method": "email", "status": "with_failed"}),
            ("history, text search", reverse("sender:history"), {"q": "message 1234"}),
            ("broadcast detail, first page", largest.broadcast.get_absolute_url(), {}),
            ("broadcast detail, failed rows", largest.broadcast.get_absolute_url(), {"status": "failed"}),
            ("broadcast detail, page 100", largest.broadcast.get_absolute_url(), {"page": "100"}),
            ("recipient history", reverse("sender:recipient_history", args=["recipients.customer", row.object_id]), {}),
            ("cost report, yearly", reverse("sender:report"), {"period": "yearly"}),
            ("cost report, monthly by method and sender", reverse("sender:report"),
             {"period": "monthly", "group": "method,sender"}),
        ]
        results = [time_page(client, name, url, params, repeat) for name, url, params in cases]
        if not no_csv:
            results.append(stream_csv(client, largest))
        self.stdout.write(json.dumps({
            "recipient_rows": MessageRecipient.objects.count(), "broadcasts": Broadcast.objects.count(),
            "biggest_broadcast_rows": largest.total, "database": connection.vendor, "results": results,
        }, indent=2))


def stream_csv(client: Client, sent: MessageSent) -> dict:
    """Stream the biggest broadcast's CSV once: rows per second and how much the RSS grew."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    response = client.get(reverse("sender:broadcast_csv", args=[sent.broadcast_id]), HTTP_HOST="localhost")
    first = None
    lines = 0
    for chunk in response.streaming_content:
        first = first or time.perf_counter() - start
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"case": "CSV of the biggest broadcast", "rows": lines - 1, "first_chunk_ms": round(first * 1000, 1),
            "total_s": round(elapsed, 2), "rows_per_s": round((lines - 1) / elapsed),
            "peak_rss_growth_mb": round(grown / 1024, 1)}


def seed_history(n: int, broadcasts: int, big: float, customers: int) -> None:
    User = get_user_model()
    user = User.objects.filter(username=USER).first() or User.objects.create_user(USER, password=USER, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_all_messages", "mark_invoiced"]))
    people = list(Customer.objects.bulk_create(
        (Customer(first_name="Bench", last_name=f"Customer {i}", email=f"bench{i}@example.com")
         for i in range(customers)), batch_size=CHUNK))
    ct = ContentType.objects.get_for_model(Customer)
    now = timezone.now()
    big_rows = int(n * big)
    small = max(broadcasts - 1, 1)
    plan = [big_rows] + [(n - big_rows) // small + (1 if i < (n - big_rows) % small else 0) for i in range(small)]
    run = uuid.uuid4().hex[:8]
    offset = 0
    for i, size in enumerate(plan):
        when = now - timedelta(days=730 * (len(plan) - 1 - i) / len(plan))
        with transaction.atomic():
            broadcast = Broadcast.objects.create(idempotency_key=f"history-{run}-{i}", sender=user,
                                                 subject=f"Bench message {i}", body=f"Body of message {i}.")
            methods = ["email", "storage"] if i % 3 == 0 and i else ["email"]
            per_method = [size // len(methods) + (1 if k < size % len(methods) else 0) for k in range(len(methods))]
            for method, rows in zip(methods, per_method):
                sent = MessageSent.objects.create(broadcast=broadcast, method=method, status=MessageSent.Status.DONE)
                counts = _insert_rows(sent, rows, people, offset, ct.pk, when)
                offset += rows
                MessageSent.objects.filter(pk=sent.pk).update(
                    created_at=when, finished_at=when, cost=PRICE * counts["sent"] if method == "email" else 0,
                    **{f"{status}_count": count for status, count in counts.items()})
            Broadcast.objects.filter(pk=broadcast.pk).update(created_at=when)


def _insert_rows(sent: MessageSent, n: int, people: list, offset: int, ct_id: int, when) -> dict[str, int]:
    """n rows for `sent`, in the MIX proportions, with one executemany per CHUNK."""
    fields = [f for f in MessageRecipient._meta.concrete_fields if not f.primary_key]
    by_name = {f.name: f for f in fields}
    prep = {name: (lambda value, f=by_name[name]: f.get_db_prep_save(value, connection)) for name in by_name}
    constant = {f.name: prep[f.name](f.get_default()) for f in fields}
    constant.update(message_sent=sent.pk, content_type=ct_id, created_at=prep["created_at"](when),
                    updated_at=prep["updated_at"](when))
    sent_at, cost = prep["sent_at"](when), prep["cost"](PRICE if sent.method == "email" else Decimal(0))
    zero = prep["cost"](Decimal(0))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (f"INSERT INTO {connection.ops.quote_name(MessageRecipient._meta.db_table)} ({columns}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    statuses = [status for status, share in MIX for _ in range(share)]
    counts = dict.fromkeys((status for status, _share in MIX), 0)
    with connection.cursor() as cursor:
        for start in range(0, n, CHUNK):
            values = []
            for k in range(start, min(start + CHUNK, n)):
                person = people[(offset + k) % len(people)]
                status = statuses[k % len(statuses)]
                counts[status] += 1
                row = {**constant, "object_id": str(person.pk), "status": status,
                       "address": person.email if sent.method == "email" else f"{ct_id}:{person.pk}",
                       "reason": REASONS.get(status, ""), "code": prep["code"](uuid.uuid4()),
                       "attempts": 1 if status in ("sent", "failed") else 0,
                       "sent_at": sent_at if status == "sent" else None,
                       "cost": cost if status == "sent" else zero, "batch": k // 5000}
                values.append(tuple(row[f.name] for f in fields))
            cursor.executemany(sql, values)
    return counts
