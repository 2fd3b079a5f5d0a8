"""Start the whole product on one machine: the ASGI server (HTTP + websockets), a task
worker, the periodic round, and the loopback mail, Skebby and Telegram sandboxes. Ctrl-C
stops everything."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sender.channels import methods
from sender.channels.sms.tracking import ensure_polling, sms_aliases
from sender.dev.management.commands.skebby_sandbox import sandbox_address
from sender.dev.sandbox import mail, skebby
from sender.dev.supervise import daphne, manage, supervise
from sender.dev.telegram import start_sandbox


class Command(BaseCommand):
    help = "Run Sender: ASGI server, task worker, mail, Skebby and Telegram sandboxes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Task worker processes.")

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        sandbox = self._start_mail_sandbox()
        sms_sandbox = self._start_sms_sandbox()
        telegram_sandbox = self._start_telegram_sandbox(host, port)
        self.stdout.write(self.style.SUCCESS(_("Sender is running at http://%(host)s:%(port)d/") % {"host": host, "port": port}))
        self.stdout.write(_("Demo logins: admin / admin (administrator), staff / staff (may send), viewer / viewer (may not send)."))
        if sandbox:
            self.stdout.write(_("Mail sandbox: messages sent by email land in %(path)s") % {"path": sandbox.handler.maildir._path})
        if sms_sandbox:
            self.stdout.write(_("Skebby sandbox: SMS go to %(url)s (make replies with manage.py skebby_sandbox --help)")
                              % {"url": sms_sandbox.url})
        if telegram_sandbox:
            self.stdout.write(_("Telegram sandbox: act as a Telegram user at %(url)s/_sandbox/") % {"url": telegram_sandbox.url})
        self.stdout.write(_("Press Ctrl-C to stop."))
        try:
            supervise([
                daphne(host, port),
                *(manage("db_worker", "--no-reload", "--worker-id", f"run-{n}") for n in range(workers)),
                manage("sender_periodic"),
            ], grace=15)
        finally:
            if sandbox:
                sandbox.stop()
            if sms_sandbox:
                sms_sandbox.stop()
            if telegram_sandbox:
                telegram_sandbox.stop()

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

    def _start_sms_sandbox(self):
        """Start the Skebby sandbox when the SMS method points at loopback, and the SMS polling task."""
        for alias in sms_aliases():
            ensure_polling(alias)
        address = sandbox_address()
        if address is None:
            return None
        try:
            return skebby.start(*address, step=3.0, fail_endings=skebby.DEMO_FAILURES)
        except OSError as exc:
            self.stderr.write(_("Skebby sandbox not started (%(error)s); using the server already on that port.")
                              % {"error": exc})
            return None

    def _start_telegram_sandbox(self, host: str, port: int):
        """Start the Bot API sandbox when the Telegram method points at loopback; it delivers to our webhook."""
        try:
            return start_sandbox(f"http://{host}:{port}/telegram/webhook/")
        except OSError as exc:
            self.stderr.write(_("Telegram sandbox not started (%(error)s); using the server already on that port.")
                              % {"error": exc})
            return None
