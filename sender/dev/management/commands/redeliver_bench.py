"""Deliver again the email broadcast of a database kept by `sender_bench --keep`, as the
bench does (`db_worker` processes, a local smtp-sink), so that delivery can be timed before
and after a change on the same rows, alternating, without seeding and committing a million
recipients each time. Each run sets the broadcast's rows back to pending and rewrites the
recipient table (VACUUM FULL: packed as a fresh COPY leaves it), then prints wall time, the
workers' CPU seconds and the table's updates (HOT or not) as JSON.

    python manage.py sender_bench --n 1000000 --method email --database postgres --workers 4 --keep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<kept database> SENDER_VAR_DIR=<kept folder> \\
        python manage.py redeliver_bench --workers 4

Refuses any database whose name does not start with `sender_bench_`.
"""

import json
import os
import resource
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from sender.dev.management.commands.sender_bench import SMTPSink, run_worker
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.deliver import enqueue_batch


def reset_to_pending(sent: MessageSent) -> tuple[int, list[int]]:
    """Every row of `sent` that left pending goes back to it, in a freshly packed table;
    returns the rows and their batches."""
    table = MessageRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = 'pending', claim = NULL, lease_until = NULL, attempts = 0, "
                       "sent_at = NULL, reason = '', updated_at = now() "
                       "WHERE message_sent_id = %s AND status IN ('sent', 'unknown', 'failed')", [sent.pk])
        rows = cursor.rowcount
        cursor.execute(f"VACUUM FULL {table}")
        cursor.execute(f"SELECT DISTINCT batch FROM {table} WHERE message_sent_id = %s AND status = 'pending'",
                       [sent.pk])
        batches = [batch for (batch,) in cursor.fetchall()]
    MessageSent.objects.filter(pk=sent.pk).update(status="queued", pending_count=rows, sent_count=0,
                                                  unknown_count=0, failed_count=0, finished_at=None, cost=0)
    DBTaskResult.objects.filter(task_path__contains="deliver").delete()
    return rows, batches


def table_updates() -> tuple[int, int]:
    """The recipient table's row updates so far, and how many of them were HOT (this process's
    own updates, from a worker run in it, are flushed to the statistics first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # at the end of the next transaction:
        cursor.execute("SELECT 1")  # this one (autocommit)
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
                       [MessageRecipient._meta.db_table])
        return cursor.fetchone()


class Command(BaseCommand):
    help = ("Deliver the email broadcast of a database kept by `sender_bench --keep` again, after setting "
            "its rows back to pending; prints delivery time, workers' CPU and row updates as JSON (not a test).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workers", type=int, default=4, help="db_worker processes, as sender_bench --workers")
        parser.add_argument("--runs", type=int, default=1, help="deliveries to time, one after the other")

    def handle(self, *args, workers: int, runs: int, **options) -> None:
        if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith("sender_bench_"):
            raise CommandError("Point DATABASE_URL at a PostgreSQL database kept by sender_bench --keep "
                               "(its name starting with 'sender_bench_').")
        sent = MessageSent.objects.get(method="email")
        self.stdout.write(json.dumps([self.run(sent, workers) for _ in range(runs)]))

    def run(self, sent: MessageSent, workers: int) -> dict:
        rows, batches = reset_to_pending(sent)
        updates_before = table_updates()
        for batch in batches:
            enqueue_batch("email", sent.pk, batch)
        load = round(os.getloadavg()[0], 1)
        workers_are = resource.RUSAGE_SELF if workers <= 1 else resource.RUSAGE_CHILDREN  # see run_worker
        with tempfile.TemporaryDirectory() as tmp, SMTPSink(Path(tmp)) as sink:
            with override_settings(SENDER=sink.sender_settings()):
                before = resource.getrusage(workers_are)
                start = time.perf_counter()
                run_worker(workers)
                wall = time.perf_counter() - start
                after = resource.getrusage(workers_are)
            received = sink.stop()
        updates_after = table_updates()
        sent.refresh_from_db()
        return {"workers": workers, "rows": rows, "batches": len(batches), "deliver_s": round(wall, 1),
                "msg_s": round(rows / wall), "received": received, "status": sent.status,
                "sent_count": sent.sent_count,
                "worker_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
                "updates": updates_after[0] - updates_before[0],
                "hot_updates": updates_after[1] - updates_before[1],
                "load": load, "load_end": round(os.getloadavg()[0], 1)}
