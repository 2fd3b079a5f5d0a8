"""The benchmark command: it runs in a throwaway database, verifies its counts, and the SQL
it counts grows with batches, never with recipients."""

import json
import math
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection

from sender.audience.models import Customer
from sender.dev.management.commands.sender_bench import bench

KEYS = {"n", "method", "valid", "duplicate", "invalid", "preview_s", "send_request_s", "send_background",
        "commit_task_s", "commit_s", "deliver_s", "end_to_end_s", "total_s", "msgs_per_s", "sql_queries",
        "peak_rss_mb", "verified"}

# Exact SQL statements (transaction BEGINs included) per phase, as measured on SQLite:
PREVIEW = 4           # permissions (user, groups), content type, one streamed SELECT of the recipients
SEND_REQUEST = 5      # Send's request, before the commit: session, user, the user's and groups' permissions,
                      # and COUNT of the selection (to commit in the request or in a task)
COMMIT_FIXED = 6      # idempotency check, BEGIN, broadcast, sent row, recipients SELECT, counters (published as written)
PER_INSERT = 1        # one INSERT per BATCH_SIZE recipient rows, whatever their status
OPT_OUTS = {"storage": 0, "email": 1}  # preview and commit each load the opt-outs of methods with addresses
JUDGE = {"storage": 0, "email": 1}  # commit: one UPDATE lets the database judge the duplicates (pipeline/dedupe.py)
PER_ENQUEUE = 1       # one task row per batch of valid rows
DELIVER_FIXED = {"storage": 3, "email": 4}  # first batch marks the sent row "sending"; the worker's last empty poll;
                                            # email reads the broadcast's attachments once
# worker: BEGIN, SELECT task, claim task, result; deliver_batch: SELECT sent, claim rows (which
# returns them), BEGIN, UPDATE rows, UPDATE counters and completion (which returns them).
PER_BATCH = {"storage": 9, "email": 9}


def run(*args: str) -> dict:
    out = StringIO()
    call_command("sender_bench", *args, "--json", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("method", ["storage", "email"])
def test_it_benchmarks_200_recipients_in_a_throwaway_database_and_verifies(method, db):
    result = run("--n", "200", "--method", method)
    assert KEYS <= set(result)
    assert result["verified"] is True
    assert result["n"] == 200
    assert result["valid"] + result["duplicate"] + result["invalid"] == 200
    if method == "email":
        assert result["received"] == result["valid"]
        assert result["duplicate"] > 0 and result["invalid"] > 0
    else:
        assert result["valid"] == 200
    assert not Customer.objects.exists()  # nothing was written to the database the tests use


def test_it_falls_back_to_an_aiosmtpd_sink_and_carries_attachments():
    result = run("--n", "200", "--method", "email", "--sink", "aiosmtpd", "--attachment-kb", "20")
    assert (result["sink"], result["verified"], result["received"]) == ("aiosmtpd", True, result["valid"])


def test_it_can_deliver_with_worker_processes():
    result = run("--n", "300", "--method", "storage", "--workers", "2", "--batch-size", "100")
    assert result["verified"] is True and result["valid"] == 300


def assert_times_add_up(result: dict) -> None:
    """End to end runs from pressing Send to the last message received; every part is timed."""
    parts = result["send_request_s"] + result["commit_task_s"] + result["deliver_s"]
    assert result["end_to_end_s"] == pytest.approx(parts, abs=0.002)
    assert result["total_s"] == pytest.approx(result["preview_s"] + parts, abs=0.002)
    assert result["commit_s"] == pytest.approx(result["send_request_s"] + result["commit_task_s"], abs=0.002)
    assert 0 < result["send_request_s"] < result["end_to_end_s"] and result["deliver_s"] > 0


def test_send_below_the_threshold_writes_the_rows_in_its_request():
    result = run("--n", "300", "--method", "email", "--commit-in-task-above", "1000")
    assert (result["verified"], result["received"], result["send_background"]) == (True, result["valid"], False)
    assert result["commit_task_s"] == 0 and result["sql_by_phase"]["commit_task"] == 0
    assert_times_add_up(result)


@pytest.mark.parametrize("workers", [1, 2])
def test_send_above_the_threshold_answers_and_leaves_the_rows_to_the_commit_task(workers):
    result = run("--n", "300", "--method", "email", "--commit-in-task-above", "100", "--workers", str(workers),
                 "--batch-size", "100")
    assert (result["verified"], result["received"], result["send_background"]) == (True, result["valid"], True)
    assert result["commit_in_task_above"] == 100
    assert result["commit_task_s"] > 0
    # The request wrote the broadcast and queued the task; the task wrote the 300 rows (3 INSERTs) and
    # queued the batches: the request's statements do not grow with the recipients, the task's do.
    assert result["sql_by_phase"]["send_request"] < result["sql_by_phase"]["commit_task"]
    assert_times_add_up(result)
    assert {"send_request", "commit_task", "deliver", "sink", "verify"} <= set(result["rss_mb_after"])


def test_it_refuses_a_database_outside_its_throwaway_folder(db, tmp_path):
    with pytest.raises(CommandError, match="Refusing"):
        call_command("sender_bench", "--n", "10", "--workdir", str(tmp_path))


def expected_queries(method: str, n: int, valid: int, batch: int) -> dict:
    batches = math.ceil(valid / batch)
    # SQLite sends BEGIN as a statement; PostgreSQL's driver opens transactions implicitly:
    # one in commit, and per batch the worker's task claim and the outcomes' transaction
    # (plus the worker's last, empty, poll).
    begins = connection.vendor == "sqlite"
    return {
        "preview": PREVIEW + OPT_OUTS[method],
        # Below COMMIT_IN_TASK_ABOVE Send's request writes every row itself, and no commit task runs:
        "send_request": (SEND_REQUEST + COMMIT_FIXED + OPT_OUTS[method] + JUDGE[method] - (not begins)
                         + PER_INSERT * math.ceil(n / batch) + PER_ENQUEUE * batches),
        "commit_task": 0,
        "deliver": DELIVER_FIXED[method] - (not begins) + (PER_BATCH[method] - 2 * (not begins)) * batches,
    }


@pytest.mark.parametrize("method", ["storage", "email"])
def test_sql_queries_grow_with_batches_not_recipients(method, transactional_db):
    results = {}
    for n in (2000, 4000):
        Customer.objects.all().delete()
        ContentType.objects.clear_cache()  # as in a fresh process
        results[n] = bench(n, method, batch_size=1000, sink="aiosmtpd")
        assert results[n]["sql_by_phase"] == expected_queries(method, n, results[n]["valid"], 1000)
    assert results[2000]["sql_by_phase"]["preview"] == results[4000]["sql_by_phase"]["preview"]
    if method == "storage":  # every row is valid: 2 more batches cost exactly 2 × (insert + enqueue + deliver)
        per_batch = expected_queries("storage", 2000, 2000, 1000)["deliver"] - expected_queries("storage", 1000, 1000, 1000)["deliver"]
        assert results[4000]["sql_queries"] - results[2000]["sql_queries"] == 2 * (PER_INSERT + PER_ENQUEUE + per_batch)


@pytest.mark.parametrize("method", ["storage", "email"])
def test_sql_queries_stay_within_the_target_with_the_default_batch_size(method, transactional_db):
    queries = {}
    for n in (2000, 12000):  # one batch and two
        Customer.objects.all().delete()
        ContentType.objects.clear_cache()
        result = bench(n, method, sink="aiosmtpd")
        assert result["verified"] is True
        assert result["sql_queries"] <= n / 500 + 50
        queries[n] = result["sql_queries"]
    # The target's slope: at most 2 statements per 1,000 more recipients, so it holds at 100k and 1M too.
    assert (queries[12000] - queries[2000]) / 10 <= 2
