"""Start the whole product on one machine: the ASGI server (HTTP + websockets), a task
worker, the periodic round, and the loopback mail, Skebby and Telegram sandboxes. Ctrl-C
stops everything."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sender.dev.sandboxes import sandboxes
from sender.dev.supervise import daphne, manage, supervise


class Command(BaseCommand):
    help = "Run Sender: ASGI server, task worker, mail, Skebby and Telegram sandboxes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Task worker processes (each takes every queue).")

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        with sandboxes(f"http://{host}:{port}/telegram/webhook/", self.stdout.write, self.stderr.write):
            self.stdout.write(self.style.SUCCESS(_("Sender is running at http://%(host)s:%(port)d/")
                                                 % {"host": host, "port": port}))
            self.stdout.write(_("Demo logins: admin / admin (administrator), staff / staff (may send), "
                                "viewer / viewer (may not send)."))
            self.stdout.write(_("Press Ctrl-C to stop."))
            supervise([
                daphne(host, port),
                *(manage("db_worker", "--no-reload", "--queue-name", "*", "--worker-id", f"run-{n}")
                  for n in range(workers)),
                manage("sender_periodic"),
            ], grace=15)
