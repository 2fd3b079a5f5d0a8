"""Move old broadcasts' recipient rows out of the database (sender/archive.py).

    python manage.py sender_archive --older-than 90d --dry-run   # what it would do
    python manage.py sender_archive --older-than 90d             # nightly
"""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.archive import archivable, archive
from sender.channels.registry import aliases_of


def age(text: str) -> timedelta:
    """"90d", "36h" or "90" (days)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dh]?)\s*", text)
    if not match:
        raise CommandError(_("--older-than takes days or hours, e.g. 90d or 36h, not “%(text)s”.") % {"text": text})
    n = int(match[1])
    return timedelta(hours=n) if match[2] == "h" else timedelta(days=n)


class Command(BaseCommand):
    help = ("Export the recipient rows of finished broadcasts older than --older-than to STORAGES['archive'] "
            "(gzip CSV) and delete them, keeping counters, costs and invoices. Inbox (storage) rows stay.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, type=age, help="e.g. 90d or 36h")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be archived; change nothing.")

    def handle(self, *args, **options) -> None:
        cutoff = timezone.now() - options["older_than"]
        dry_run = options["dry_run"]
        total = 0
        for sent in archivable(cutoff, keep_methods=aliases_of("storage")):
            done = archive(sent, dry_run=dry_run)
            total += done.rows
            line = _("would archive") if dry_run else _("archived")
            self.stdout.write(_("Broadcast %(id)d, %(method)s: %(verb)s %(rows)d rows to %(file)s") % {
                "id": done.broadcast_id, "method": done.method, "verb": line, "rows": done.rows, "file": done.file})
        self.stdout.write(_("%(rows)d rows in total (nothing changed: dry run).") % {"rows": total} if dry_run
                          else _("%(rows)d rows in total.") % {"rows": total})
