"""`manage.py sender_archive`: old broadcasts' rows leave the database for a gzip CSV in
STORAGES["archive"]; counters, costs and invoices stay; inbox rows stay; re-runs are safe."""

import csv
import gzip
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

import sender
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


@pytest.fixture
def archive_dir(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    return tmp_path


def finished(user, key: str, days_ago: int) -> Broadcast:
    """A delivered, costed and invoiced broadcast over email and the inbox, made `days_ago` days ago."""
    broadcast = commit(EVERYONE, user, ["email", "storage"], Draft(body="Hi", subject="Old"), key)
    MessageRecipient.objects.filter(message_sent__broadcast=broadcast).update(status="sent", cost=Decimal("0.5"))
    broadcast.sents.update(status=MessageSent.Status.DONE, sent_count=30, pending_count=0, cost=Decimal("15"),
                           invoiced=True, invoiced_at=timezone.now())
    Broadcast.objects.filter(pk=broadcast.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return broadcast


def read_archive(name: str) -> list[dict]:
    with storages["archive"].open(name) as f:
        return list(csv.DictReader(io.TextIOWrapper(gzip.GzipFile(fileobj=f), encoding="utf-8")))


def run(*args) -> str:
    out = io.StringIO()
    call_command("sender_archive", *args, stdout=out)
    return out.getvalue()


def test_old_rows_go_to_the_archive_and_the_counters_stay(sender_user, archive_dir, db):
    people = customers(30)
    old = finished(sender_user, "old", 100)
    recent = finished(sender_user, "recent", 10)
    email = old.sents.get(method="email")

    report = run("--older-than", "90d", "--dry-run")
    assert f"Broadcast {old.pk}, email: would archive 30 rows" in report
    assert str(recent.pk) not in report.replace("in total", "")
    assert MessageRecipient.objects.count() == 120 and not list(archive_dir.rglob("*.gz"))

    report = run("--older-than", "90d")

    rows = read_archive(f"broadcasts/{old.pk}/email.csv.gz")
    assert sorted(r["address"] for r in rows) == sorted(p.email.lower() for p in people)
    assert {(r["status"], r["cost"], r["recipient_type"]) for r in rows} == {
        ("sent", "0.5000", "recipients.customer")}
    assert not MessageRecipient.objects.filter(message_sent=email).exists()
    assert MessageRecipient.objects.filter(message_sent__broadcast=old, message_sent__method="storage").count() == 30
    assert MessageRecipient.objects.filter(message_sent__broadcast=recent).count() == 60
    email.refresh_from_db()
    assert (email.sent_count, email.cost, email.invoiced) == (30, Decimal("15"), True)
    assert "30 rows in total" in report

    assert "0 rows in total" in run("--older-than", "90d")  # again: nothing left, the file as it was
    assert len(read_archive(f"broadcasts/{old.pk}/email.csv.gz")) == 30


def test_a_run_that_died_while_deleting_finishes_without_losing_the_archived_rows(sender_user, archive_dir, db):
    customers(30)
    old = finished(sender_user, "old", 100)
    email = old.sents.get(method="email")
    run("--older-than", "90d")
    archived = read_archive(f"broadcasts/{old.pk}/email.csv.gz")
    # The state a crash between two delete chunks leaves: the export is marked, some rows remain.
    MessageRecipient.objects.bulk_create(
        MessageRecipient(message_sent=email, content_type_id=1, object_id=str(i), address=f"left{i}@example.com",
                         status="sent") for i in range(5))

    assert f"Broadcast {old.pk}, email: archived 30 rows" in run("--older-than", "90d")

    assert not MessageRecipient.objects.filter(message_sent=email).exists()
    assert read_archive(f"broadcasts/{old.pk}/email.csv.gz") == archived  # not overwritten by the leftovers


def test_an_unfinished_broadcast_is_never_archived(sender_user, archive_dir, db):
    customers(3)
    old = finished(sender_user, "old", 100)
    old.sents.filter(method="email").update(status=MessageSent.Status.SENDING)

    assert "0 rows in total" in run("--older-than", "90d")
    assert MessageRecipient.objects.filter(message_sent__broadcast=old).count() == 6


def test_the_archive_keeps_each_rows_own_text(sender_user, smtp_server, run_worker, archive_dir):
    people = customers(2)
    broadcast = commit(EVERYONE, sender_user, ["email"], Draft(body="Dear {{ first_name }}", subject="Old"), "texts")
    run_worker()
    Broadcast.objects.filter(pk=broadcast.pk).update(created_at=timezone.now() - timedelta(days=100))
    run("--older-than", "90d")
    rows = read_archive(f"broadcasts/{broadcast.pk}/email.csv.gz")
    assert {r["address"]: r["text"] for r in rows} == {p.email: f"Dear {p.first_name}" for p in people}


def test_rows_sent_from_code_to_a_bare_address_are_archived_without_a_record_type(
        smtp_server, transactional_db, archive_dir):
    row = sender.send_text("Your code is 1234", None, "ada@example.com", method="email", subject="Code")
    broadcast = row.message_sent.broadcast
    Broadcast.objects.filter(pk=broadcast.pk).update(created_at=timezone.now() - timedelta(days=100))

    assert "1 rows in total" in run("--older-than", "90d")

    [archived] = read_archive(f"broadcasts/{broadcast.pk}/email.csv.gz")
    assert (archived["address"], archived["recipient_type"], archived["recipient_id"]) == ("ada@example.com", "", "")
    assert not MessageRecipient.objects.filter(pk=row.pk).exists()
