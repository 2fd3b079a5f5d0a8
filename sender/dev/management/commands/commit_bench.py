"""Time the commit of N email recipients on PostgreSQL, again and again on one seeded
database (seeding takes longer than the commit), with the CPU seconds of this process (the
COPY writer thread included) and of its PostgreSQL backend (read from /proc: the server must
run on this machine). CPU seconds move much less than wall time when other jobs share the
cores. Each run empties the recipient table first, so the database must be a scratch one:
its name must contain "scratch".

    createdb -h 127.0.0.1 -U postgres sender_scratch
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sender_scratch python manage.py commit_bench --runs 3
"""

import json
import os
import time
import uuid

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.dev.demo import seed_recipients
from sender.dev.management.commands.sender_bench import bench_user
from sender.pipeline.commit import commit


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of a process on this machine (the database backend)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Command(BaseCommand):
    help = ("Commit N email recipients (commit(background=False)) on a scratch PostgreSQL database, "
            "emptying the recipient table before each run; prints wall time and the CPU seconds of "
            "Python and of the database backend per run, as JSON (not a test).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--runs", type=int, default=3, help="commits to time, one after the other")
        parser.add_argument("--n", type=int, default=100_000, help="seed customers (once) until there are this many; every customer is committed")

    def handle(self, *args, runs: int, n: int, **options) -> None:
        if connection.vendor != "postgresql" or "scratch" not in connection.settings_dict["NAME"]:
            raise CommandError("Point DATABASE_URL at a scratch PostgreSQL database (its name containing 'scratch').")
        call_command("migrate", verbosity=0)
        if Customer.objects.count() < n:
            seed_recipients(n - Customer.objects.count())
        user = bench_user()
        selection = Selection.parse({"recipients.customer": {"filter": ""}})
        results = []
        with override_settings(DEBUG=False):
            for _ in range(runs):
                with connection.cursor() as cursor:
                    cursor.execute("TRUNCATE sender_messagerecipient CASCADE")
                    cursor.execute("DELETE FROM django_tasks_database_dbtaskresult")
                    cursor.execute("CHECKPOINT")
                    cursor.execute("SELECT pg_backend_pid()")
                    (pid,) = cursor.fetchone()
                start, python, server = time.perf_counter(), time.process_time(), backend_cpu(pid)
                commit(selection, user, ["email"], Draft(body="Hello", subject="Benchmark"), uuid.uuid4().hex,
                       background=False)
                results.append({"commit_s": round(time.perf_counter() - start, 3),
                                "python_cpu_s": round(time.process_time() - python, 3),
                                "server_cpu_s": round(backend_cpu(pid) - server, 3),
                                "load": round(os.getloadavg()[0], 1)})
        self.stdout.write(json.dumps(results))
