"""Periodic housekeeping for a scaled-out Sender: run one of these next to the workers.

    python manage.py sender_periodic            # every 30 s until stopped
    python manage.py sender_periodic --once     # once (for cron or a systemd timer)

Each round re-queues the batches whose worker stopped without finishing (SIGKILL, lost
machine) once their lease has run out: django-tasks-db never re-runs such a task itself;
restarts an SMS method's delivery-tracking chain if it has died; and refreshes the query
planner's statistics once an hour (at start too).
"""

import signal
import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sender.channels.sms.tracking import ensure_polling, sms_aliases
from sender.operations import refresh_statistics, statistics_stale
from sender.pipeline.commit import recover_preparing
from sender.pipeline.deliver import recover_expired

STATISTICS_EVERY = 3600.0  # seconds between two refreshes of the planner's statistics


class Command(BaseCommand):
    help = "Re-queue batches left behind by stopped workers and keep SMS tracking alive, periodically or once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")
        parser.add_argument("--every", type=float, default=30.0, help="Seconds between rounds (default 30).")

    def handle(self, *args, once: bool, every: float, **options) -> None:
        stop = False

        def on_signal(signum, frame):
            nonlocal stop
            stop = True

        if not once:
            signal.signal(signal.SIGINT, on_signal)
            signal.signal(signal.SIGTERM, on_signal)
        analysed = -STATISTICS_EVERY
        while True:
            if time.monotonic() - analysed >= STATISTICS_EVERY or statistics_stale():
                refresh_statistics()
                analysed = time.monotonic()
            queued = recover_expired()
            preparing = recover_preparing()
            if preparing:
                self.stdout.write(_("Re-queued the preparation of %(n)d broadcasts left by stopped workers.")
                                  % {"n": preparing})
            for alias in sms_aliases():
                ensure_polling(alias)
            if queued or options["verbosity"] > 1:
                self.stdout.write(_("Re-queued %(n)d batches left by stopped workers.") % {"n": queued})
            if once:
                return
            deadline = time.monotonic() + every
            while not stop and time.monotonic() < deadline:
                time.sleep(min(0.5, every))
            if stop:
                return
