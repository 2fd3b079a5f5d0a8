"""Send a broadcast from the command line, through the same pipeline as the dashboard.

    manage.py broadcast --user sally --method email --method storage \\
        --model recipients.customer --filter "city=Bologna" \\
        --subject "Closed on Monday" --body-file notice.txt --attachment map.pdf \\
        --billee recipients.customer:42 --dry-run

Every check the dashboard makes applies here too (who may send, what they may see,
attachments, presend); a problem stops the command with a clear message and writes
nothing. `--dry-run` prints the preview.
"""

import sys
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from sender.attachments import CheckedFile, check_attachment, save_checked
from sender.audience.billees import find_billee
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.models import Broadcast, MessageAttachment, MessageTypology
from sender.pipeline.commit import commit
from sender.pipeline.preview import Preview, preview


class Command(BaseCommand):
    help = "Send a message to a selection of recipients over one or more send methods."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--method", action="append", required=True, dest="methods", metavar="ALIAS",
                            help="A send method alias from SENDER['METHODS']; repeat for several.")
        parser.add_argument("--model", required=True, help="The recipient model, as app_label.model.")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--filter", help='Everyone matching this query string, e.g. "q=rossi&city=Bologna".')
        who.add_argument("--ids", help="Comma-separated primary keys, e.g. 1,2,3.")
        parser.add_argument("--subject", default="")
        body = parser.add_mutually_exclusive_group(required=True)
        body.add_argument("--body", help="The message text.")
        body.add_argument("--body-file", help="A UTF-8 file with the message text; - reads standard input.")
        parser.add_argument("--attachment", action="append", default=[], dest="attachments", metavar="PATH",
                            help="A file to attach; repeat for several.")
        parser.add_argument("--user", required=True, help="Username of the sender; must be allowed to send.")
        parser.add_argument("--typology", help="Name of the message typology.")
        parser.add_argument("--billee", metavar="MODEL:ID",
                            help="Who the cost is billed to, e.g. recipients.customer:42: a recipient "
                                 "model the user may see, or one of SENDER['BILLEE_MODELS'].")
        parser.add_argument("--idempotency-key", help="Sending twice with the same key sends once (default: random).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Print what would be sent and what it would cost; write nothing.")

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        try:
            self.run(**options)
        except (SelectionError, ValidationError) as exc:
            problems = exc.errors if isinstance(exc, SelectionError) else exc.messages
            raise CommandError(" ".join(str(problem) for problem in problems)) from exc
        except (PermissionDenied, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc

    def run(self, *, methods: list[str], user: str, dry_run: bool, **options) -> None:
        sender = find_user(user)
        selection = parse_selection(options["model"], options["filter"], options["ids"])
        typology = find_typology(options["typology"])
        body = read_body(options["body"], options["body_file"])
        files = [read_attachment(path) for path in options["attachments"]]
        billee = parse_billee(options["billee"], sender)
        if dry_run:
            unsaved = [MessageAttachment(name=f.name, content_type=f.content_type, size=len(f.data)) for f in files]
            draft = Draft(body=body, subject=options["subject"], attachments=unsaved)
            self.print_preview(preview(selection, sender, methods, draft))
            return
        key = options["idempotency_key"] or uuid.uuid4().hex
        if (existing := Broadcast.objects.filter(idempotency_key=key, sender=sender).first()) is not None:
            headline = _("Broadcast %(id)d already used this idempotency key: nothing was sent again.")
            self.print_result(existing, headline % {"id": existing.pk})
            return
        broadcast = send(selection, sender, methods, body, options["subject"], files, key, typology, billee)
        headline = _("Broadcast %(id)d created; delivery runs in the background.")
        self.print_result(broadcast, headline % {"id": broadcast.pk})

    def print_preview(self, result: Preview) -> None:
        self.stdout.write(_("Dry run: nothing was written or sent."))
        for m in result.methods:
            self.stdout.write(
                _("%(method)s: %(valid)d valid, %(duplicate)d duplicate, %(invalid)d invalid; "
                  "%(segments)d segment(s) each, cost %(cost)s")
                % {"method": m.alias, "valid": m.valid, "duplicate": m.duplicate, "invalid": m.invalid,
                   "segments": m.segments, "cost": m.cost}
            )
            if self.verbosity >= 2:
                for row in m.rejected:
                    self.stdout.write(f"  {row.status} {row.address or '-'}: {row.reason}")
        for warning in result.warnings:
            self.stdout.write(self.style.WARNING(_("Warning: %(text)s") % {"text": warning}))
        self.stdout.write(_("Total cost: %(cost)s") % {"cost": result.total_cost})

    def print_result(self, broadcast: Broadcast, headline: str) -> None:
        self.stdout.write(self.style.SUCCESS(headline))
        for sent in broadcast.sents.order_by("pk"):
            self.stdout.write(
                _("%(method)s: %(pending)d to send, %(duplicate)d duplicate, %(invalid)d invalid")
                % {"method": sent.method, "pending": sent.pending_count, "duplicate": sent.duplicate_count,
                   "invalid": sent.invalid_count}
            )


def find_user(username: str) -> AbstractBaseUser:
    model = get_user_model()
    try:
        return model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        raise CommandError(_("There is no user “%(name)s”.") % {"name": username}) from None


def parse_selection(model: str, query: str | None, ids: str | None) -> Selection:
    """--filter travels as the picker's query string; --ids as a list, like the dashboard posts."""
    if query is not None:
        return Selection.parse({model: {"filter": query}})
    parsed = [part.strip() for part in ids.split(",") if part.strip()]
    if not parsed:
        raise CommandError(_("--ids lists no id."))
    return Selection.parse({model: {"ids": parsed}})


def parse_billee(value: str | None, user: AbstractBaseUser) -> Model | None:
    """--billee app_label.model:id → the object, checked as the API checks it."""
    if not value:
        return None
    label, sep, pk = value.rpartition(":")
    if not sep or not label or not pk:
        raise CommandError(_("--billee takes app_label.model:id, e.g. recipients.customer:42."))
    return find_billee(label, pk, user)


def find_typology(name: str | None) -> MessageTypology | None:
    if not name:
        return None
    try:
        return MessageTypology.objects.get(name=name)
    except MessageTypology.DoesNotExist:
        known = ", ".join(MessageTypology.objects.values_list("name", flat=True)) or _("none")
        message = _("There is no typology “%(name)s”. Known: %(known)s.") % {"name": name, "known": known}
        raise CommandError(message) from None


def read_body(body: str | None, path: str | None) -> str:
    if path is None:
        return body
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = _("Cannot read the body file %(path)s: %(error)s") % {"path": path, "error": exc}
        raise CommandError(message) from exc


def read_attachment(path: str) -> CheckedFile:
    """Checked now, stored only when sending, so a dry run or a refused send leaves no file."""
    try:
        with open(path, "rb") as f:
            return check_attachment(File(f, name=Path(path).name))
    except OSError as exc:
        message = _("Cannot read the attachment %(path)s: %(error)s") % {"path": path, "error": exc.strerror or exc}
        raise CommandError(message) from exc


def send(selection: Selection, user: AbstractBaseUser, methods: list[str], body: str, subject: str,
         files: list[CheckedFile], key: str, typology: MessageTypology | None, billee: Model | None = None) -> Broadcast:
    """Store the attachments and commit in one transaction; if the commit is refused, the
    stored files are removed too, so nothing is left behind."""
    stored: list[MessageAttachment] = []
    try:
        with transaction.atomic():
            for checked in files:
                stored.append(save_checked(checked, user))
            draft = Draft(body=body, subject=subject, attachments=stored)
            return commit(selection, user, methods, draft, key, typology=typology, billee=billee)
    except BaseException:  # whatever stopped the commit (even Ctrl-C), no stored file stays behind; it goes on
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
