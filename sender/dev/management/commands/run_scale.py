"""Run the scale-out layout on one machine: several ASGI servers, several task workers
and the periodic round, all on the configured PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sender REDIS_URL=redis://127.0.0.1:6379/0 \\
        python manage.py run_scale --create-database --servers 2 --workers 4

Server k listens on PORT+k. In production a proxy (nginx, HAProxy) spreads requests and
websockets over them; here each is reachable directly, and a page served by one follows
a broadcast delivered by workers through Redis. Ctrl-C stops everything: workers get
SIGTERM, finish the chunk in hand and release the rest of their batch.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from sender.dev.supervise import daphne, manage, supervise


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
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--create-database", action="store_true",
                            help="Create the database if missing, migrate and load the demo data.")

    def handle(self, *args, host: str, port: int, servers: int, workers: int, **options) -> None:
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
        for k in range(servers):
            self.stdout.write(self.style.SUCCESS(f"Server {k + 1}: http://{host}:{port + k}/"))
        self.stdout.write(f"{workers} task workers, 1 periodic round. Press Ctrl-C to stop.")
        supervise([
            *(daphne(host, port + k) for k in range(servers)),
            *(manage("db_worker", "--no-reload", "--worker-id", f"scale-{n}") for n in range(workers)),
            manage("sender_periodic"),
        ])
