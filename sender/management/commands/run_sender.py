"""Start the whole product on one machine: the ASGI server (HTTP + websockets), a task
worker, and the loopback mail sandbox. Ctrl-C stops everything."""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sender.methods import methods
from sender.sandbox import mail


class Command(BaseCommand):
    help = "Run Sender: ASGI server, task worker and mail sandbox."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Task worker processes.")

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        sandbox = self._start_mail_sandbox()
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen([sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "project.asgi:application"]),
            *(subprocess.Popen([*manage, "db_worker", "--worker-id", f"run-{n}"]) for n in range(workers)),
        ]
        self.stdout.write(self.style.SUCCESS(_("Sender is running at http://%(host)s:%(port)d/") % {"host": host, "port": port}))
        self.stdout.write(_("Demo logins: admin / admin (administrator), staff / staff (may send), viewer / viewer (may not send)."))
        if sandbox:
            self.stdout.write(_("Mail sandbox: messages sent by email land in %(path)s") % {"path": sandbox.handler.maildir._path})
        self.stdout.write(_("Press Ctrl-C to stop."))
        stop = False

        def on_signal(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            if sandbox:
                sandbox.stop()

    def _start_mail_sandbox(self):
        """Start the sandbox when the email method points at a loopback port nobody serves."""
        if "email" not in methods.settings:
            return None
        options = methods["email"].options
        if options.get("host") not in {"127.0.0.1", "localhost"}:
            return None
        try:
            return mail.start(options["host"], int(options["port"]), settings.VAR_DIR / "mail")
        except OSError as exc:
            self.stderr.write(_("Mail sandbox not started (%(error)s); using the server already on that port.") % {"error": exc})
            return None
