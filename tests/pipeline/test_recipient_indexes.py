"""The recipient table's lookups by a single value still go through an index after the
commit's cheaper indexes: a gateway's receipt by its order reference (an index of filled
references only, on PostgreSQL), a bounce by row code, a reply by number (an index of the
addresses that are not email addresses, on PostgreSQL), and the duplicate check reads one
message's rows. On PostgreSQL, sequential scans are switched off for the question: with a
handful of rows the planner rightly prefers one, and what matters is whether an index can
serve the query at all."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.models import Customer
from sender.channels.sms.gateway import Received
from sender.channels.sms.incoming import store_incoming
from sender.channels.sms.models import SmsDispatch, SmsGateway
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.answers import came_by
from sender.pipeline.dedupe import judge
from sender.pipeline.rows import RowWriter

TABLE = MessageRecipient._meta.db_table


def plan(queryset) -> str:
    return plan_sql(*queryset.query.sql_with_params())


def plan_sql(sql: str, params: tuple | None = None) -> str:
    """The plan of `sql`: with `params`, or as captured (values written in)."""
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


def run(call):
    """What `call()` returns, and the SQL it ran against the recipient table."""
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return result, [q["sql"] for q in queries if TABLE in q["sql"]]


@pytest.fixture
def later_broadcasts(sender_user, sent) -> MessageSent:
    """Twenty more SMS broadcasts to the same 200 numbers, and PostgreSQL's statistics of
    them: the planner then knows a method's rows are many and one number's are few. The
    last one's MessageSent."""
    ct = ContentType.objects.get_for_model(Customer).pk
    writer = RowWriter()
    for n in range(20):
        broadcast = Broadcast.objects.create(idempotency_key=f"later-{n}", body="Hi", sender=sender_user)
        later = MessageSent.objects.create(broadcast=broadcast, method="sms")
        writer.insert([writer.row(later.pk, ct, str(i), f"+39333{i:07d}", "pending", "", 1, 0) for i in range(200)])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}, sender_messagesent")
    return later


def test_a_reply_finds_the_row_sent_to_its_number_through_the_address_index(later_broadcasts):
    (stored,), queries = run(lambda: store_incoming("sms", [Received("in-1", "+393330000009", "", "Yes", "")]))
    assert (stored.object_id, stored.message_sent_id) == ("9", later_broadcasts.pk)  # the latest of 21
    (by_number,) = [sql for sql in queries if "+393330000009" in sql]
    assert "recipient_address" in plan_sql(by_number)


def test_the_gateway_a_reply_came_by_is_found_without_reading_the_table(sent):
    gateway = SmsGateway.objects.create(name="relay")
    row = MessageRecipient.objects.get(message_sent=sent, object_id="9")
    SmsDispatch.objects.create(recipient=row, gateway=gateway, provider_id="P9")
    (stored,) = store_incoming("sms", [Received("in-1", "+393330000009", "", "Yes", "")])
    name, queries = run(lambda: came_by(stored))
    assert name == "relay"
    (query,) = queries
    assert "Seq Scan on sender_messagerecipient" not in plan_sql(query)
    assert f"SCAN {TABLE}" not in plan_sql(query)


def test_the_duplicate_check_reads_one_message_through_an_index_without_a_join(sent):
    MessageRecipient.objects.filter(message_sent=sent, object_id__in=["5", "6"]).update(status="duplicate")
    twin = MessageRecipient.objects.get(message_sent=sent, object_id="6")
    MessageRecipient.objects.filter(message_sent=sent, object_id="7").update(address=twin.address)

    revived, queries = run(lambda: judge(sent.pk, 3))

    assert revived == 1  # "5" has no valid twin; "6" has "7"
    assert MessageRecipient.objects.get(message_sent=sent, object_id="5").batch == 3
    steps = plan_sql(queries[0])
    assert "recipient_sent_status" in steps
    assert "Seq Scan" not in steps and "Nested Loop" not in steps and f"SCAN {TABLE}" not in steps


def index_definition(name: str) -> str:
    """PostgreSQL's own CREATE INDEX statement for index `name`, as the migrations left it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the partial index is PostgreSQL's")
def test_on_postgresql_rows_with_no_reference_yet_are_not_in_the_reference_index(sent):
    definition = index_definition("recipient_gateway_ref")
    assert "WHERE" in definition and "''" in definition


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the partial index is PostgreSQL's")
def test_on_postgresql_email_addresses_are_not_in_the_address_index(sent):
    definition = index_definition("recipient_address")
    assert "WHERE" in definition and "'%@%'" in definition
