import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.audience.selection import Selection
from sender.channels import Draft, Outcome
from sender.channels.base import RETRY
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import one_per_row
from tests.factories import customers

Status = MessageRecipient.Status


def broadcast(user, key="k"):
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"], Draft(body="Hi"), key)


def delivery_queries(user, run_worker, key):
    sent = broadcast(user, key=key).sents.get()
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count) == (MessageSent.Status.DONE, sent.total)
    return len(queries)


def test_delivery_queries_grow_with_batches_not_recipients(sender_user, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 100}
    customers(100)
    one_batch = delivery_queries(sender_user, run_worker, "one")
    customers(300)
    four_batches = delivery_queries(sender_user, run_worker, "four")
    per_batch = (four_batches - one_batch) // 3
    assert four_batches - one_batch == 3 * per_batch  # exactly linear in batches
    # The worker takes the task (4 with BEGIN/COMMIT) and closes it (1); we read the method,
    # claim the rows (the UPDATE returns them), write outcomes and counters in one transaction
    # (4; the counters' UPDATE returns the new counters).
    assert per_batch == 11


def test_rows_of_a_crashed_worker_are_claimed_again_once_the_lease_expires(sender_user, run_worker):
    customers(4)
    sent = broadcast(sender_user).sents.get()
    dead_worker = uuid.uuid4()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=dead_worker, lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    run_worker()
    sent.refresh_from_db()
    # The dead worker may have sent them: sent again, and said so rather than called a success.
    assert (sent.status, sent.delivered_count, sent.unknown_count) == (MessageSent.Status.DONE, 0, 4)
    assert set(MessageRecipient.objects.values_list("attempts", "claim", "status")) == {(2, None, "unknown")}
    assert "may have arrived twice" in MessageRecipient.objects.first().reason


def test_only_the_chunk_a_crashed_worker_was_sending_is_marked(sender_user, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "CHECKPOINT_ROWS": 2}
    customers(7)
    sent = broadcast(sender_user).sents.get()
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    # The dead worker recorded its first chunk (2 rows), then died sending the second.
    MessageRecipient.objects.filter(pk__in=[r.pk for r in rows[:2]]).update(status="delivered")
    MessageRecipient.objects.filter(pk__in=[r.pk for r in rows[2:]]).update(
        claim=uuid.uuid4(), lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    MessageSent.objects.filter(pk=sent.pk).update(pending_count=5, delivered_count=2)
    run_worker()
    statuses = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))
    assert statuses == ["delivered", "delivered", "unknown", "unknown", "delivered", "delivered", "delivered"]
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count, sent.unknown_count, sent.pending_count) == ("done", 5, 2, 0)


def test_rows_under_a_live_lease_are_left_to_their_worker(sender_user, run_worker):
    customers(3)
    sent = broadcast(sender_user).sents.get()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=uuid.uuid4(), lease_until=timezone.now() + timedelta(minutes=5))
    run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.delivered_count) == (MessageSent.Status.QUEUED, 3, 0)


def test_a_method_removed_from_the_settings_after_commit_ends_failed_and_is_not_queued_again(
        sender_user, run_worker, settings):
    customers(3)
    sent = broadcast(sender_user).sents.get()
    settings.SENDER = {**settings.SENDER, "METHODS": {
        alias: params for alias, params in settings.SENDER["METHODS"].items() if alias != "storage"}}
    run_worker()  # returns only once the queue is empty: nothing loops
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.failed_count) == (MessageSent.Status.FAILED, 0, 3)
    assert "storage" in sent.error and "Not sent" in sent.error
    assert set(MessageRecipient.objects.values_list("status", "attempts")) == {("failed", 0)}
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_rows_whose_worker_stopped_max_attempts_times_end_unknown_instead_of_being_claimed_again(
        sender_user, run_worker, settings):
    customers(2)
    sent = broadcast(sender_user).sents.get()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=uuid.uuid4(), lease_until=timezone.now() - timedelta(seconds=1), attempts=settings.SENDER.get("MAX_ATTEMPTS", 5))
    run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.unknown_count) == (MessageSent.Status.DONE, 0, 2)
    assert all("Gave up after" in reason for reason in MessageRecipient.objects.values_list("reason", flat=True))


def test_an_outcome_outside_the_closed_set_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        Outcome(1, "delivered-ish")
    assert Outcome(1, Status.DELIVERED).charged and not Outcome(1, RETRY).charged


def test_a_method_that_answers_for_a_row_twice_or_not_at_all_leaves_each_row_exactly_one_outcome():
    rows = [MessageRecipient(id=i) for i in (1, 2, 3)]
    answered = [Outcome(1, Status.DELIVERED), Outcome(1, Status.FAILED), Outcome(3, RETRY), Outcome(9, Status.DELIVERED)]
    fixed = one_per_row(answered, rows, {})
    assert [(o.row_id, o.status) for o in fixed] == [(1, "delivered"), (2, "unknown"), (3, "retry")]
