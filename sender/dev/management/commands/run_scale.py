"""Run the scale-out layout on one machine: several ASGI servers, several task workers
and the periodic round, all on the configured PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sender REDIS_URL=redis://127.0.0.1:6379/0 \\
        python manage.py run_scale --create-database --servers 2 --workers 4
        python manage.py run_scale --queue email=4 --queue sms=1 --queue telegram=1 --queue storage=1

Each send method's batches go to a queue named by its alias. `--workers N` starts N workers
that take every queue; `--queue ALIAS=N` (repeatable) gives a queue its own N workers, so a
slow Telegram broadcast never delays email; one more worker then takes every other queue
(scheduled sends, SMS polling, methods not named). The same sandboxes as `make run` start
for every method that points at loopback; a real gateway configured starts none, and each
is named when it starts.

Server k listens on PORT+k. In production a proxy (nginx, HAProxy) spreads requests and
websockets over them; here each is reachable directly, and a page served by one follows
a broadcast delivered by workers through Redis. Ctrl-C stops everything: workers get
SIGTERM, finish the chunk in hand and release the rest of their batch.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from sender.dev.sandboxes import sandboxes
from sender.dev.supervise import daphne, manage, supervise


def worker_commands(workers: int, queues: list[str]) -> list[list[str]]:
    """`db_worker` command lines: `workers` taking every queue, or per `ALIAS=N` its own N
    plus one for every queue not named."""
    if not queues:
        return [manage("db_worker", "--no-reload", "--queue-name", "*", "--worker-id", f"scale-{n}")
                for n in range(workers)]
    commands, named = [], []
    for spec in queues:
        name, _, count = spec.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise CommandError(f"--queue wants ALIAS=N with N ≥ 1, not {spec!r}.")
        named.append(name)
        commands += [manage("db_worker", "--no-reload", "--queue-name", name, "--worker-id", f"scale-{name}-{n}")
                     for n in range(int(count))]
    commands.append(manage("db_worker", "--no-reload", "--queue-name", "*", "--exclude-queues", ",".join(named),
                           "--worker-id", "scale-rest"))
    return commands


def create_database() -> bool:
    """Create the PostgreSQL database named in DATABASE_URL if it is missing."""
    import psycopg

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"] or None, "port": db["PORT"] or None, "user": db["USER"] or None,
              "password": db["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        return True


class Command(BaseCommand):
    help = "Run several ASGI servers, task workers and the periodic round on PostgreSQL + Redis."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="First server's port (default 8000).")
        parser.add_argument("--servers", type=int, default=2)
        parser.add_argument("--workers", type=int, default=4, help="Workers taking every queue (without --queue).")
        parser.add_argument("--queue", action="append", default=[], metavar="ALIAS=N",
                            help="N workers for the queue of one send method; repeat per method.")
        parser.add_argument("--create-database", action="store_true",
                            help="Create the database if missing, migrate and load the demo data.")

    def handle(self, *args, host: str, port: int, servers: int, workers: int, queue: list[str], **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("run_scale needs DATABASE_URL=postgres://…: SQLite serves one machine (use make run).")
        if not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
            raise CommandError("run_scale needs REDIS_URL=redis://…: the in-memory layer cannot cross processes.")
        if options["create_database"]:
            if create_database():
                self.stdout.write(f"Created database {settings.DATABASES['default']['NAME']}.")
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo", "--if-empty")
            call_command("collectstatic", interactive=False, verbosity=0)
        commands = worker_commands(workers, queue)
        with sandboxes(f"http://{host}:{port}/telegram/webhook/", self.stdout.write, self.stderr.write):
            for k in range(servers):
                self.stdout.write(self.style.SUCCESS(f"Server {k + 1}: http://{host}:{port + k}/"))
            layout = ", ".join(queue) if queue else "every queue"
            self.stdout.write(f"{len(commands)} task workers ({layout}), 1 periodic round. Press Ctrl-C to stop.")
            supervise([*(daphne(host, port + k) for k in range(servers)), *commands, manage("sender_periodic")])
