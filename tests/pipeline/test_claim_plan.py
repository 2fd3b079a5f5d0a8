"""Delivering a batch must find its rows through an index, never by reading the whole
recipient table: a scan per batch makes each batch dearer as the table grows (at a million
rows, a hundred batches each read a million rows). SQLite's planner is rule-based on these
queries, so its plan says so whatever the table's size."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageSent
from sender.operations import refresh_statistics, statistics_stale
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


def test_statistics_taken_while_the_table_was_small_do_not_make_the_claim_scan(sender_user, run_worker, settings):
    # sender_periodic refreshes the planner's statistics hourly: taken after a first small
    # broadcast, they say any index of the table selects all of it, and SQLite would then
    # scan the (since grown) table once per batch of the next broadcast.
    selection = Selection.parse({"recipients.customer": {"filter": ""}})
    customers(3)
    commit(selection, sender_user, ["storage"], Draft(body="Hi"), "first")
    run_worker()
    refresh_statistics()
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 10}
    customers(30)
    commit(selection, sender_user, ["storage"], Draft(body="Hi"), "next")
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    claims = [q["sql"] for q in queries if q["sql"].lstrip().startswith(f'UPDATE "{TABLE}"') and "RETURNING" in q["sql"]]
    assert len(claims) >= 3
    assert [plan(sql) for sql in claims if any(s.startswith(f"SCAN {TABLE}") for s in plan(sql))] == []


def test_the_periodic_round_sees_statistics_outgrown_by_a_large_broadcast(sender_user, run_worker, settings):
    selection = Selection.parse({"recipients.customer": {"filter": ""}})
    customers(3)
    commit(selection, sender_user, ["storage"], Draft(body="Hi"), "first")
    run_worker()
    assert not statistics_stale()  # none taken yet: SQLite plans by rule
    refresh_statistics()
    assert not statistics_stale()
    customers(12_000)
    commit(selection, sender_user, ["storage"], Draft(body="Hi"), "large")
    assert statistics_stale()
    call_command("sender_periodic", "--once", stdout=StringIO())
    assert not statistics_stale()
