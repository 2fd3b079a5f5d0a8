"""Show how delivery is doing: queue depth, oldest pending row, failures per method.

    python manage.py sender_status          # a short table
    python manage.py sender_status --json   # for monitoring
"""

import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from sender.operations import delivery_status, queue_stats


class Command(BaseCommand):
    help = "Show queue depth, the oldest pending row and failures per send method."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, **options) -> None:
        status = {"queue": queue_stats(), **delivery_status()}
        if options["json"]:
            self.stdout.write(json.dumps(status))
            return
        q = status["queue"]
        self.stdout.write(_("Tasks: %(ready)d ready, %(deferred)d deferred, %(running)d running") % q)
        if q["oldest_ready_seconds"] is not None:
            self.stdout.write(_("Oldest ready task waited %(s).0f s") % {"s": q["oldest_ready_seconds"]})
        self.stdout.write(_("Pending rows: %(n)d") % {"n": status["pending_rows"]})
        if status["oldest_pending"]:
            self.stdout.write(_("Oldest pending row: %(at)s (%(s).0f s ago)")
                              % {"at": status["oldest_pending"], "s": status["oldest_pending_seconds"]})
        if status["expired_leases"]:
            self.stdout.write(self.style.WARNING(
                _("%(n)d rows held by stopped workers: run manage.py sender_periodic") % {"n": status["expired_leases"]}))
        header = f"{_('method'):<12}{_('active'):>8}{_('pending'):>10}{_('sent'):>10}{_('delivered'):>10}{_('failed'):>10}{_('unknown'):>10}"
        self.stdout.write(header)
        for method, row in status["methods"].items():
            self.stdout.write(f"{method:<12}{row['active']:>8}{row['pending'] or 0:>10}{row['sent'] or 0:>10}"
                              f"{row['delivered'] or 0:>10}"
                              f"{row['failed'] or 0:>10}{row['unknown'] or 0:>10}")
