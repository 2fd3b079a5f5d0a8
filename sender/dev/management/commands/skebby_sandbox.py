"""Run the loopback Skebby sandbox on its own: `manage.py skebby_sandbox [--port 8025]`.

`make run` starts it for you (run_sender); this is for trying the gateway by hand, e.g.

    curl "http://127.0.0.1:8025/API/v1.0/REST/login?username=sandbox&password=sandbox"
    curl -X POST http://127.0.0.1:8025/_sandbox/ -d '{"receive": [["+393471234567", "Yes, thanks"]]}'

or open http://127.0.0.1:8025/_sandbox/ to see the SMS arrive and report or answer them.
"""

import signal
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from sender.dev.sandbox import skebby
from sender.dev.sandboxes import push_targets, sandbox_address


class Command(BaseCommand):
    help = "Run the loopback Skebby sandbox (Skebby's REST API, with state and switchable faults)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--step", type=float, default=3.0, help="Seconds per delivery state step.")
        parser.add_argument("--site", default="http://127.0.0.1:8000",
                            help="Where Sender runs: reports and replies of the other gateway kinds are pushed there.")

    def handle(self, *args, host: str | None, port: int | None, step: float, site: str, **options) -> None:
        configured = sandbox_address() or ("127.0.0.1", 8025)
        try:
            server = skebby.start(host or configured[0], port or configured[1], step=step,
                                  fail_endings=skebby.DEMO_FAILURES)
        except OSError as exc:
            raise CommandError(f"Cannot start the Skebby sandbox: {exc}") from exc
        server.state.targets = push_targets(site.rstrip("/"))
        host, port = server.server_address[:2]
        self.stdout.write(f"Skebby sandbox at {server.url} (login sandbox / sandbox), its page at "
                          f"http://{host}:{port}/_sandbox/. Ctrl-C stops it.")
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
