"""Several real worker processes on one broadcast: every row delivered exactly once,
counted at the SMTP server; a worker that outlives its lease cannot overwrite anything."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft, Outcome
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import deliver_task, record, take
from tests.factories import customers

Status = MessageRecipient.Status


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_deliver_every_row_exactly_once(n_workers, sender_user, settings, slow_smtp, workers):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 25}
    cs = customers(400)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                       Draft(body="Hello", subject="Many"), f"many-{n_workers}")
    sent = broadcast.sents.get()
    for batch in range(16):  # every batch queued twice: workers race for the same rows
        deliver_task.enqueue(sent.pk, batch)
    env = {"SENDER_BATCH_SIZE": "25", "SENDER_CHECKPOINT_ROWS": "10"}
    running = [workers(f"w{i}", **env) for i in range(n_workers)]
    for worker in running:
        code, output = worker.wait()
        assert code == 0, output
    assert Counter(slow_smtp.recipients()) == Counter(c.email.lower() for c in cs)  # delivered once, lost none
    assert set(MessageRecipient.objects.values_list("status", "attempts")) == {(Status.SENT, 1)}
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count) == (MessageSent.Status.DONE, 400, 0)


def test_a_worker_past_its_lease_writes_nothing_over_its_successor(sender_user, transactional_db):
    customers(5)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi"), "late")
    sent = broadcast.sents.get()
    slow = take(sent, 0)
    MessageRecipient.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # it stalled
    successor = take(sent, 0)
    assert {r.id for r in successor.rows} == {r.id for r in slow.rows} == successor.suspect

    late = [Outcome(r.id, Status.FAILED, "late") for r in slow.rows]
    assert record(slow, slow.rows, late, Decimal(0)) == (None, 0)
    sent.refresh_from_db()
    assert (sent.pending_count, sent.failed_count) == (5, 0)

    assert record(successor, successor.rows, [Outcome(r.id, Status.SENT) for r in successor.rows], Decimal(0)) == (None, 5)
    sent.refresh_from_db()
    assert (sent.status, sent.unknown_count, sent.pending_count) == ("done", 5, 0)
