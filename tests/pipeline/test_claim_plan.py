"""Delivering a batch must find its rows through an index, never by reading the whole
recipient table: a scan per batch makes each batch dearer as the table grows (at a million
rows, a hundred batches each read a million rows). SQLite's planner is rule-based on these
queries, so its plan says so whatever the table's size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite",
                                reason="PostgreSQL's planner may rightly scan a tiny table; SQLite's plan is by rule")
TABLE = "sender_messagerecipient"


def plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return [row[-1] for row in cursor.fetchall()]


@pytest.mark.parametrize("method", ["storage", "email"])
def test_no_query_of_a_delivery_scans_the_recipient_table(sender_user, run_worker, settings, smtp_server, method):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 10}
    customers(30)
    sent = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, [method],
                  Draft(body="Hi", subject="Hi"), "plan").sents.get()
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    sent.refresh_from_db()
    assert sent.status == MessageSent.Status.DONE and sent.pending_count == 0
    touching = [q["sql"] for q in queries if TABLE in q["sql"] and not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert len(touching) >= 3 * 2  # per batch: claim (reading the rows back), write the outcomes
    scans = {sql: steps for sql in touching if (steps := [s for s in plan(sql) if s.startswith(f"SCAN {TABLE}")])}
    assert scans == {}
