import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sender.methods import Draft
from sender.models import MessageRecipient, MessageSent
from sender.pipeline import Selection, commit
from tests.factories import customers

Status = MessageRecipient.Status


def broadcast(user, key="k"):
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"], Draft(body="Hi"), key)


def delivery_queries(user, run_worker, key):
    sent = broadcast(user, key=key).sents.get()
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.success_count) == (MessageSent.Status.DONE, sent.total)
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
    # claim, read the rows, write outcomes and counters in one transaction (4), re-read counters.
    assert per_batch == 13


def test_rows_of_a_crashed_worker_are_claimed_again_once_the_lease_expires(sender_user, run_worker):
    customers(4)
    sent = broadcast(sender_user).sents.get()
    dead_worker = uuid.uuid4()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=dead_worker, lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    run_worker()
    sent.refresh_from_db()
    # The dead worker may have sent them: sent again, and said so rather than called a success.
    assert (sent.status, sent.success_count, sent.unknown_count) == (MessageSent.Status.DONE, 0, 4)
    assert set(MessageRecipient.objects.values_list("attempts", "claim", "status")) == {(2, None, "unknown")}
    assert "may have arrived twice" in MessageRecipient.objects.first().reason


def test_only_the_chunk_a_crashed_worker_was_sending_is_marked(sender_user, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "CHECKPOINT_ROWS": 2}
    customers(7)
    sent = broadcast(sender_user).sents.get()
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    # The dead worker recorded its first chunk (2 rows), then died sending the second.
    MessageRecipient.objects.filter(pk__in=[r.pk for r in rows[:2]]).update(status="success")
    MessageRecipient.objects.filter(pk__in=[r.pk for r in rows[2:]]).update(
        claim=uuid.uuid4(), lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    MessageSent.objects.filter(pk=sent.pk).update(pending_count=5, success_count=2)
    run_worker()
    statuses = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))
    assert statuses == ["success", "success", "unknown", "unknown", "success", "success", "success"]
    sent.refresh_from_db()
    assert (sent.status, sent.success_count, sent.unknown_count, sent.pending_count) == ("done", 5, 2, 0)


def test_rows_under_a_live_lease_are_left_to_their_worker(sender_user, run_worker):
    customers(3)
    sent = broadcast(sender_user).sents.get()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=uuid.uuid4(), lease_until=timezone.now() + timedelta(minutes=5))
    run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.success_count) == (MessageSent.Status.QUEUED, 3, 0)
