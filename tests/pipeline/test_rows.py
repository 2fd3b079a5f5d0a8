"""Recipient rows go in by COPY on PostgreSQL (a small chunk: one multi-row INSERT) and by
executemany on SQLite: the same rows either way."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.models import Customer
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline import rows as rows_module
from sender.pipeline.rows import RowWriter

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="COPY is PostgreSQL's; SQLite has only executemany (run with DATABASE_URL=postgres://…)")

ADDRESSES = ["plain@example.com", "tab\there@example.com", "new\nline", "back\\slash\\N", "Zoë «ünïcode» 📨", ""]
COMPARED = ("content_type_id", "object_id", "address", "status", "reason", "segments", "batch", "gateway_ref",
            "cost", "attempts", "is_sender", "claim", "lease_until", "sent_at")


def sents(user, key: str, *methods: str) -> list[MessageSent]:
    """One broadcast's MessageSent per method: rows written two ways land side by side."""
    broadcast = Broadcast.objects.create(idempotency_key=key, body="Hi", sender=user)
    return [MessageSent.objects.create(broadcast=broadcast, method=method) for method in methods]


def statements(queries: CaptureQueriesContext) -> list[str]:
    """Each captured statement up to its column list: 'COPY "table"' or 'INSERT INTO "table"'."""
    return [q["sql"].split(" (")[0] for q in queries]


def rows_of(sent: MessageSent) -> list[tuple]:
    return list(MessageRecipient.objects.filter(message_sent=sent).order_by("object_id").values_list(*COMPARED))


def test_copy_writes_the_same_rows_as_executemany(sender_user, monkeypatch):
    monkeypatch.setattr(rows_module, "COPY_FROM", 1)  # these 12 rows by COPY, however few
    by_copy, by_insert = sents(sender_user, "rows", "email", "storage")
    ct = ContentType.objects.get_for_model(Customer).pk
    writer = RowWriter()

    def tuples(sent_id: int) -> list[tuple]:
        return [writer.row(sent_id, ct, f"{i:03d}", address, status, reason, i % 3, i // 2)
                for i, (address, (status, reason)) in enumerate(
                    (a, s) for a in ADDRESSES for s in [("pending", ""), ("invalid", "No @ in it;\ttab \\ and\nline")])]

    with CaptureQueriesContext(connection) as queries:
        writer.insert(iter(tuples(by_copy.pk)))
    assert statements(queries) == ['COPY "sender_messagerecipient"']  # one COPY, no INSERT
    with connection.cursor() as cursor:
        cursor.executemany(writer.sql, tuples(by_insert.pk))

    assert rows_of(by_copy) == rows_of(by_insert)
    assert len(rows_of(by_copy)) == 2 * len(ADDRESSES)
    assert {r.address for r in MessageRecipient.objects.filter(message_sent=by_copy)} == set(ADDRESSES)
    assert MessageRecipient.objects.filter(message_sent=by_copy).values("code").distinct().count() == 12


def test_plain_chunks_and_bare_addresses_go_in_unchanged(sender_user, monkeypatch):
    """A chunk with nothing to escape takes the plain path; a bare address (no recipient
    type: NULL) or a value with a tab takes the escaped one; both give back the same values."""
    monkeypatch.setattr(rows_module, "COPY_FROM", 1)  # the two-row chunk too
    [sent] = sents(sender_user, "plain", "email")
    ct = ContentType.objects.get_for_model(Customer).pk
    writer = RowWriter()
    plain = [writer.row(sent.pk, ct, str(i), f"user{i}@example.com", "pending", "", 1, 0) for i in range(50)]
    bare = [writer.row(sent.pk, None, "", "bare@example.com", "pending", "", 1, 0),
            writer.row(sent.pk, ct, "x", "a\tb@example.com", "invalid", "Tab\tin it", 0, 0)]
    with CaptureQueriesContext(connection) as queries:
        writer.insert(plain)
        writer.insert(bare)
    assert len(queries) == 2  # one COPY per chunk
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert rows.count() == 52
    assert set(rows.filter(content_type__isnull=True).values_list("address", flat=True)) == {"bare@example.com"}
    assert rows.get(object_id="x").reason == "Tab\tin it"
    assert rows.get(object_id="7").address == "user7@example.com"
    assert rows.values("code").distinct().count() == 52
    assert {r.code.version for r in rows} == {7}  # time-ordered: they go in at the end of the code index
    codes = [code.hex for code in rows.order_by("id").values_list("code", flat=True)]
    assert codes == sorted(codes)


def test_a_small_chunk_goes_in_by_one_insert_with_the_same_rows_as_copy(sender_user, monkeypatch):
    """Below COPY_FROM rows (one row: a send from code) a chunk is one multi-row INSERT, not a
    COPY with its writer thread: the rows stored are the same, awkward characters included."""
    by_insert, by_copy = sents(sender_user, "small", "email", "storage")
    ct = ContentType.objects.get_for_model(Customer).pk
    writer = RowWriter()

    def tuples(sent_id: int) -> list[tuple]:
        return [writer.row(sent_id, ct if i % 2 else None, f"{i:03d}", address, "invalid" if i % 2 else "pending",
                           "Tab\tand\\ back" if i % 2 else "", i % 3, 0) for i, address in enumerate(ADDRESSES)]

    with CaptureQueriesContext(connection) as queries:
        writer.insert(tuples(by_insert.pk))
    assert statements(queries) == ['INSERT INTO "sender_messagerecipient"']  # one statement
    monkeypatch.setattr(rows_module, "COPY_FROM", 1)
    with CaptureQueriesContext(connection) as queries:
        writer.insert(tuples(by_copy.pk))
    assert statements(queries) == ['COPY "sender_messagerecipient"']
    assert rows_of(by_insert) == rows_of(by_copy)
    assert len(rows_of(by_insert)) == len(ADDRESSES)
