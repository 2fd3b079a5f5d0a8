"""Run the loopback Skebby sandbox on its own: `manage.py skebby_sandbox [--port 8025]`.

`make run` starts it for you (run_sender); this is for trying the gateway by hand, e.g.

    curl "http://127.0.0.1:8025/API/v1.0/REST/login?username=sandbox&password=sandbox"
    curl -X POST http://127.0.0.1:8025/_sandbox/ -d '{"receive": [["+393471234567", "Yes, thanks"]]}'
"""

import signal
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from sender.dev.sandbox import skebby
from sender.dev.sandboxes import sandbox_address


class Command(BaseCommand):
    help = "Run the loopback Skebby sandbox (Skebby's REST API, with state and switchable faults)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--step", type=float, default=3.0, help="Seconds per delivery state step.")

    def handle(self, *args, host: str | None, port: int | None, step: float, **options) -> None:
        configured = sandbox_address() or ("127.0.0.1", 8025)
        try:
            server = skebby.start(host or configured[0], port or configured[1], step=step,
                                  fail_endings=skebby.DEMO_FAILURES)
        except OSError as exc:
            raise CommandError(f"Cannot start the Skebby sandbox: {exc}") from exc
        self.stdout.write(f"Skebby sandbox at {server.url} (login sandbox / sandbox). Ctrl-C stops it.")
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
