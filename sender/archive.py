"""Archiving: an old broadcast's recipient rows go to a gzip CSV in `STORAGES["archive"]`,
then leave the database in chunks. The broadcast, its per-method counters, costs and
invoices stay, so history and reports still add up.

Idempotent: a method whose export finished is marked (`MessageSent.extra["archived"]`)
before anything is deleted, so a re-run after a crash deletes what is left without
writing the file again (it would lack the rows already gone); an export that died half
written is simply written again.
"""

import csv
import gzip
import io
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from sender.models import Broadcast, MessageRecipient, MessageSent

CHUNK = 10_000
COLUMNS = ["id", "recipient_type", "recipient_id", "address", "status", "reason", "gateway_ref", "segments",
           "cost", "attempts", "created_at", "sent_at", "text"]
FINISHED = [MessageSent.Status.DONE, MessageSent.Status.CANCELLED, MessageSent.Status.FAILED]


@dataclass
class Archived:
    """What archiving one method of a broadcast did (or, in a dry run, would do)."""

    broadcast_id: int
    method: str
    rows: int
    file: str


def archive_name(sent: MessageSent) -> str:
    return f"broadcasts/{sent.broadcast_id}/{sent.method}.csv.gz"


def archivable(cutoff: datetime, keep_methods: Iterable[str] = ()) -> Iterable[MessageSent]:
    """Methods of broadcasts made before `cutoff` that finished and still have rows in the
    database (rows of `keep_methods` stay: e.g. the storage method's are recipients' inboxes)."""
    unfinished = MessageSent.objects.exclude(status__in=FINISHED).values("broadcast_id")
    old = Broadcast.objects.filter(created_at__lt=cutoff).exclude(pk__in=unfinished).values("pk")
    has_rows = Exists(MessageRecipient.objects.filter(message_sent=OuterRef("pk")))
    return (MessageSent.objects.filter(has_rows, broadcast_id__in=old).exclude(method__in=list(keep_methods))
            .order_by("broadcast_id", "method"))


def archive(sent: MessageSent, dry_run: bool = False) -> Archived:
    """Export `sent`'s rows (unless already exported) and delete them in chunks."""
    storage = storages["archive"]
    rows = MessageRecipient.objects.filter(message_sent=sent)
    name = archive_name(sent)
    done = sent.extra.get("archived")
    if dry_run:
        return Archived(sent.broadcast_id, sent.method, rows.count(), done["file"] if done else name)
    if not done:
        count, name = export(rows, storage, name)
        done = {"file": name, "rows": count, "at": timezone.now().isoformat()}
        sent.extra = {**sent.extra, "archived": done}
        MessageSent.objects.filter(pk=sent.pk).update(extra=sent.extra)
    while ids := list(rows.order_by("id").values_list("id", flat=True)[:CHUNK]):
        with transaction.atomic():
            MessageRecipient.objects.filter(id__in=ids).delete()
    return Archived(sent.broadcast_id, sent.method, done["rows"], done["file"])


def export(rows, storage, name: str) -> tuple[int, str]:
    """Write `rows` as gzip CSV to `storage` under `name` (replacing a half-written one);
    the rows are read with a server-side cursor and spooled through a temporary file."""
    labels: dict[int, str] = {}
    count = 0
    with tempfile.TemporaryFile() as spool:
        with gzip.GzipFile(fileobj=spool, mode="wb") as packed, \
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text:
            writer = csv.writer(text)
            writer.writerow(COLUMNS)
            for row in rows.order_by("id").values_list(
                    "id", "content_type_id", "object_id", "address", "status", "reason", "gateway_ref", "segments",
                    "cost", "attempts", "created_at", "sent_at", "text").iterator(chunk_size=CHUNK):
                row = list(row)
                if row[1] not in labels:  # None: an address sent to from code, with no record behind it
                    content_type = ContentType.objects.get_for_id(row[1]) if row[1] else None
                    labels[row[1]] = f"{content_type.app_label}.{content_type.model}" if content_type else ""
                row[1] = labels[row[1]]
                row[10] = row[10].isoformat()
                row[11] = row[11].isoformat() if row[11] else ""
                writer.writerow(row)
                count += 1
        spool.seek(0)
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, File(spool, name=name))
    return count, saved
