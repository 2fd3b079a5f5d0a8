"""What an operator asks of a running Sender: is it healthy, how deep is the queue, what
is stuck, what fails. Used by the health endpoint and `manage.py sender_status`."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from sender.models import MessageRecipient, MessageSent

Status = MessageRecipient.Status


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    data: dict = field(default_factory=dict)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down", and the endpoint must still answer
        return Check("database", False, type(exc).__name__)
    return Check("database", True, connection.vendor)


def check_channel_layer(timeout: float = 2.0) -> Check:
    """Send a message to a fresh channel and read it back: proves the layer (Redis) works."""
    layer = get_channel_layer()
    if layer is None:
        return Check("channel_layer", False, "not configured")
    name = type(layer).__name__

    async def roundtrip() -> bool:
        channel = await layer.new_channel("health.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await asyncio.wait_for(layer.receive(channel), timeout)
        return message.get("token") == token

    try:
        ok = async_to_sync(roundtrip)()
    except Exception as exc:  # a layer that is down is reported, not raised
        return Check("channel_layer", False, f"{name}: {type(exc).__name__}")
    return Check("channel_layer", ok, name)


def queue_stats(now: datetime | None = None) -> dict:
    """Task queue depth (ready now, deferred, running) and the oldest ready task's age."""
    now = now or timezone.now()
    # django-tasks-db stores "no run_after" as the maximum date: those are ready too.
    ready = Q(status="READY") & (Q(run_after=get_date_max()) | Q(run_after__lte=now))
    tasks = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).aggregate(
        ready=Count("id", filter=ready),
        deferred=Count("id", filter=Q(status="READY") & ~ready),
        running=Count("id", filter=Q(status="RUNNING")),
        oldest=Min("enqueued_at", filter=ready),
    )
    oldest = tasks.pop("oldest")
    tasks["oldest_ready_seconds"] = round((now - oldest).total_seconds(), 1) if oldest else None
    return tasks


def check_queue(max_age: float = 600) -> Check:
    try:
        stats = queue_stats()
    except Exception as exc:  # a queue that cannot be read is reported as down, and the endpoint must still answer
        return Check("queue", False, type(exc).__name__)
    late = stats["oldest_ready_seconds"] is not None and stats["oldest_ready_seconds"] > max_age
    return Check("queue", not late, f"{stats['ready']} ready" + (" (workers behind)" if late else ""), stats)


def health() -> list[Check]:
    return [check_database(), check_channel_layer(), check_queue()]


def delivery_status(now: datetime | None = None) -> dict:
    """Pending rows, the oldest one, leases that ran out, and failures, per method."""
    now = now or timezone.now()
    pending = MessageRecipient.objects.filter(status=Status.PENDING)
    oldest = pending.aggregate(at=Min("created_at"))["at"]
    per_method = {
        row["method"]: row for row in MessageSent.objects.values("method").annotate(
            pending=Sum("pending_count"), sent=Sum("sent_count"), delivered=Sum("delivered_count"),
            failed=Sum("failed_count"),
            unknown=Sum("unknown_count"), active=Count("id", filter=Q(status__in=["queued", "sending"])),
        ).order_by("method")
    }
    return {
        "pending_rows": sum(row["pending"] or 0 for row in per_method.values()),
        "oldest_pending": oldest.isoformat() if oldest else None,
        "oldest_pending_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
        "expired_leases": pending.filter(claim__isnull=False, lease_until__lt=now).count(),
        "methods": per_method,
    }


def statistics_stale() -> bool:
    """Whether SQLite's statistics describe a recipient table far smaller than today's (a
    broadcast of many rows committed since the last ANALYZE): with them its planner scans
    the table for each batch's rows. Two reads of a few pages, so sender_periodic asks every
    round. PostgreSQL plans from the table's current size: never stale here."""
    if connection.vendor != "sqlite":
        return False
    table = MessageRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return False  # no statistics: SQLite plans by rule, through the indexes
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s LIMIT 1", [table])
        row = cursor.fetchone()
        cursor.execute(f"SELECT MAX(id) - MIN(id) + 1 FROM {connection.ops.quote_name(table)}")
        rows = cursor.fetchone()[0] or 0
    counted = int(row[0].split()[0]) if row else 0
    return rows > 2 * counted + 10_000


def refresh_statistics() -> None:
    """Refresh the query planner's statistics (sampled, so quick at any size). Without them
    SQLite walks a reader's 100,000 inbox rows instead of starting from the few messages the
    text index found; PostgreSQL's autovacuum does it too, but lags behind large inserts."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute("ANALYZE")
