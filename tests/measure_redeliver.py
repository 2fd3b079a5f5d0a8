"""Deliver the email broadcast of a database kept by `sender_bench --keep` again, as the
bench does (four `db_worker` processes, a local smtp-sink), so that delivery can be timed
before and after a change on the same rows, alternating, without seeding and committing a
million recipients each time. Each run first sets the broadcast's rows back to pending and
rewrites the recipient table (VACUUM FULL, packed as a fresh COPY leaves it), then prints
wall time, the workers' CPU seconds and the table's updates (HOT or not) as JSON.

    sender_bench --n 1000000 --method email --database postgres --workers 4 --keep   # prints the kept names
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<kept database> SENDER_VAR_DIR=<kept folder> \\
        DJANGO_SETTINGS_MODULE=project.settings .venv/bin/python -m tests.measure_redeliver [workers]

Refuses any database whose name does not start with `sender_bench_`.
"""

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import django


def main(workers: int = 4) -> dict:
    django.setup()
    from django.db import connection
    from django.test import override_settings
    from django_tasks_db.models import DBTaskResult

    from sender.dev.management.commands.sender_bench import SMTPSink, run_worker
    from sender.models import MessageRecipient, MessageSent
    from sender.pipeline.deliver import enqueue_batch

    if not connection.settings_dict["NAME"].startswith("sender_bench_"):
        raise SystemExit("Only a database kept by sender_bench (sender_bench_…) is reset here.")
    sent = MessageSent.objects.get(method="email")
    table = MessageRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = 'pending', claim = NULL, lease_until = NULL, attempts = 0, "
                       "sent_at = NULL, reason = '', updated_at = now() "
                       "WHERE message_sent_id = %s AND status IN ('sent', 'unknown', 'failed')", [sent.pk])
        rows = cursor.rowcount
        cursor.execute(f"VACUUM FULL {table}")
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [table])
        updates_before = cursor.fetchone()
        cursor.execute(f"SELECT DISTINCT batch FROM {table} WHERE message_sent_id = %s AND status = 'pending'",
                       [sent.pk])
        batches = [batch for (batch,) in cursor.fetchall()]
    MessageSent.objects.filter(pk=sent.pk).update(status="queued", pending_count=rows, sent_count=0,
                                                  unknown_count=0, failed_count=0, finished_at=None, cost=0)
    DBTaskResult.objects.filter(task_path__contains="deliver").delete()
    for batch in batches:
        enqueue_batch("email", sent.pk, batch)
    load = open("/proc/loadavg").read().split()[:3]
    with tempfile.TemporaryDirectory() as tmp, SMTPSink(Path(tmp)) as sink:
        with override_settings(SENDER=sink.sender_settings()):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            run_worker(workers)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        received = sink.stop()
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [table])
        updates_after = cursor.fetchone()
    sent.refresh_from_db()
    return {"workers": workers, "rows": rows, "batches": len(batches), "deliver_s": round(wall, 1),
            "msg_s": round(rows / wall), "received": received, "status": sent.status, "sent_count": sent.sent_count,
            "worker_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "updates": updates_after[0] - updates_before[0], "hot_updates": updates_after[1] - updates_before[1],
            "load": load, "load_end": open("/proc/loadavg").read().split()[:3]}


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:]))))
