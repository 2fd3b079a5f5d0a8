"""The recipient table's lookups by a single value still go through an index after the
commit's cheaper indexes: a gateway's receipt by its order reference (an index of filled
references only, on PostgreSQL), a bounce by row code, a reply by number. On PostgreSQL,
sequential scans are switched off for the question: with a handful of rows the planner
rightly prefers one, and what matters is whether an index can serve the query at all."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from sender.audience.models import Customer
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.rows import RowWriter


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@pytest.fixture
def sent(sender_user):
    """An SMS broadcast's rows as commit writes them (empty gateway references), some of
    them later handed to the gateway in an order."""
    broadcast = Broadcast.objects.create(idempotency_key="indexes", body="Hi", sender=sender_user)
    sent = MessageSent.objects.create(broadcast=broadcast, method="sms")
    ct = ContentType.objects.get_for_model(Customer).pk
    writer = RowWriter()
    writer.insert([writer.row(sent.pk, ct, str(i), f"+39333{i:07d}", "pending", "", 1, 0) for i in range(200)])
    MessageRecipient.objects.filter(message_sent=sent, object_id__in=["1", "2", "3"]).update(gateway_ref="ORDER-1")
    return sent


def test_a_receipt_finds_its_order_rows_through_the_reference_index(sent):
    rows = MessageRecipient.objects.filter(message_sent_id=sent.pk, gateway_ref="ORDER-1")
    assert sorted(rows.values_list("object_id", flat=True)) == ["1", "2", "3"]
    assert "recipient_gateway_ref" in plan(rows)


def test_a_bounce_and_a_reply_find_their_rows_through_an_index(sent):
    code = MessageRecipient.objects.get(message_sent=sent, object_id="7").code
    by_code = MessageRecipient.objects.filter(code__in=[code])
    assert list(by_code.values_list("object_id", flat=True)) == ["7"]
    assert "Seq Scan" not in plan(by_code) and "SCAN" not in plan(by_code)
    assert "sender_messagerecipient_code" in plan(by_code) or "USING INDEX sqlite_autoindex" in plan(by_code)
    by_number = MessageRecipient.objects.filter(address="+393330000009")
    assert list(by_number.values_list("object_id", flat=True)) == ["9"]
    assert "recipient_address" in plan(by_number)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the partial index is PostgreSQL's")
def test_on_postgresql_rows_with_no_reference_yet_are_not_in_the_reference_index(sent):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'recipient_gateway_ref'")
        (definition,) = cursor.fetchone()
    assert "WHERE" in definition and "''" in definition
