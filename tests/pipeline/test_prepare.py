"""A large send is committed off the request: Send answers with the broadcast "preparing",
the commit task writes the rows, then delivery runs. Cancel works while preparing; a
re-run of the task (retry, crash recovery) never doubles rows."""

from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.cancel import cancel
from sender.pipeline.commit import commit, names_more_than, recover_preparing
from tests.factories import customers, subject

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def send(user, key="big"):
    return commit(EVERYONE, user, ["email"], Draft(body="Hello", subject="Big"), key)


def test_above_the_size_send_answers_preparing_and_the_task_writes_then_delivers(
        sender_user, smtp_server, run_worker, settings, client):
    settings.SENDER = {**settings.SENDER, "COMMIT_IN_TASK_ABOVE": 20, "BATCH_SIZE": 10}
    people = customers(25)
    broadcast = send(sender_user)
    sent = broadcast.sents.get()
    assert sent.status == MessageSent.Status.PREPARING and sent.total == 0
    assert not MessageRecipient.objects.exists()
    client.force_login(sender_user)
    assert "preparing" in client.get(broadcast.get_absolute_url()).content.decode()

    run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.total) == (MessageSent.Status.DONE, 25, 25)
    assert Counter(smtp_server.recipients()) == Counter({p.email: 1 for p in people})


def test_below_the_size_the_rows_are_written_in_the_request(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "COMMIT_IN_TASK_ABOVE": 20}
    customers(20)
    sent = send(sender_user).sents.get()
    assert (sent.status, sent.pending_count) == (MessageSent.Status.QUEUED, 20)


def test_the_size_counts_every_model_and_stops_at_the_limit(sender_user):
    """Send's request decides on a COUNT that stops at the limit, so it costs the same at a
    million recipients; the models of the selection add up."""
    customers(15)
    subject("Acme"), subject("Brio")
    both = Selection.parse({"recipients.customer": {"filter": ""}, "recipients.externalsubject": {"filter": ""}})
    assert names_more_than(both, sender_user, 16)
    assert not names_more_than(both, sender_user, 17)
    with CaptureQueriesContext(connection) as queries:
        assert names_more_than(both, sender_user, 10)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 11" in counts[0]  # the customers alone decide it
    # Unordered: the customers' default ordering made PostgreSQL sort the whole table first.
    assert "ORDER BY" not in counts[0].upper()


def test_cancel_while_preparing_sends_nothing(sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "COMMIT_IN_TASK_ABOVE": 0}
    customers(5)
    broadcast = send(sender_user)
    cancel(broadcast, sender_user)
    run_worker()
    sent = broadcast.sents.get()
    assert sent.status == MessageSent.Status.CANCELLED and "Cancelled by sally" in sent.error
    assert smtp_server.recipients() == []
    assert not MessageRecipient.objects.filter(status=MessageRecipient.Status.PENDING).exists()


def test_a_preparation_left_by_a_dead_worker_is_queued_again_and_writes_each_row_once(
        sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "COMMIT_IN_TASK_ABOVE": 0}
    people = customers(5)
    broadcast = send(sender_user)
    DBTaskResult.objects.update(status="RUNNING")  # its worker died holding it: never run again by itself
    assert recover_preparing(older_than=0) == 1
    assert recover_preparing(older_than=0) == 0  # already waiting: not queued twice
    commit_twice = DBTaskResult.objects.get(status="READY")
    commit_twice.pk = None
    commit_twice.save()  # and even if it were, a second run writes nothing
    run_worker()
    sent = broadcast.sents.get()
    assert (sent.status, sent.sent_count, sent.total) == (MessageSent.Status.DONE, 5, 5)
    assert MessageRecipient.objects.filter(message_sent=sent).count() == 5
    assert Counter(smtp_server.recipients()) == Counter({p.email: 1 for p in people})


def test_a_selection_emptied_before_the_task_runs_ends_failed_with_the_reason(sender_user, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "COMMIT_IN_TASK_ABOVE": 0}
    people = customers(3)
    broadcast = send(sender_user)
    type(people[0]).objects.all().delete()
    run_worker()
    sent = broadcast.sents.get()
    assert (sent.status, sent.error) == (MessageSent.Status.FAILED, "The selection is empty: nobody matches it.")
    assert not DBTaskResult.objects.filter(status="READY").exists()
