"""Crash safety with real worker processes and a real SMTP server, counted at the server.

A worker killed with SIGKILL mid-batch leaves claimed rows; once the lease runs out the
periodic round re-queues them and another worker finishes. Rows with a recorded outcome,
or that the dead worker's journal proves the server took, are never sent again; only the
message that was on the wire is sent again and marked "may have arrived twice"; nothing is
lost. SIGTERM finishes the chunk in hand and releases the rest.
"""

import signal
from collections import Counter

from django.core.management import call_command

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.email.method import EmailMethod
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline import journal
from sender.pipeline.deliver import expired_batches
from tests.factories import customers
from tests.scale.conftest import wait_until

Status = MessageRecipient.Status
N, BATCH, CHUNK = 200, 100, 20


def email_broadcast(user, settings, key: str) -> tuple[MessageSent, list[str]]:
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": BATCH}
    cs = customers(N)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["email"],
                       Draft(body="Hello", subject="Crash?"), key)
    return broadcast.sents.get(), [c.email.lower() for c in cs]


def statuses(sent: MessageSent) -> Counter:
    return Counter(MessageRecipient.objects.filter(message_sent=sent).values_list("status", flat=True))


def test_sigkill_mid_batch_loses_nothing_and_marks_only_what_was_on_the_wire(sender_user, settings, slow_smtp,
                                                                             workers):
    sent, addresses = email_broadcast(sender_user, settings, "sigkill")
    slow_smtp.handler.delay = 0.01
    # Checkpoints every 20 rows: the kill lands with some chunks recorded and one half sent.
    env = {"SENDER_BATCH_SIZE": str(BATCH), "SENDER_CHECKPOINT_ROWS": str(CHUNK), "SENDER_LEASE_SECONDS": "2"}
    victim = workers("victim", batch=False, **env)
    wait_until(lambda: len(slow_smtp.recipients()) >= 50, what="the first worker to be mid-batch")
    victim.signal(signal.SIGKILL)
    victim.wait()
    sent_before_crash = Counter(slow_smtp.recipients())
    recorded = {a for a, s in MessageRecipient.objects.filter(message_sent=sent).values_list("address", "status")
                if s != Status.PENDING}
    assert recorded and recorded <= set(sent_before_crash)  # what was recorded really went out
    abandoned = MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING, claim__isnull=False)
    assert abandoned.exists()
    # The dead worker's journal names rows past the last checkpoint, and only rows the server received.
    [left] = journal.left_for(sent.pk, 0)  # the first batch
    journaled = journal.read(left).outcomes
    by_id = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("id", "address"))
    assert {by_id[i] for i in journaled} <= set(sent_before_crash)
    assert {by_id[i] for i in journaled} - recorded

    # Once the dead worker's lease runs out, the periodic round queues its batch again.
    wait_until(lambda: expired_batches(), timeout=30, what="the lease to run out")
    call_command("sender_periodic", "--once")
    code, output = workers("rescuer", **env).wait()
    assert code == 0, output

    received = Counter(slow_smtp.recipients())
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "status"))
    twice = {a for a, n in received.items() if n > 1}
    assert set(received) == set(addresses)                          # lost: 0
    assert all(n <= 2 for n in received.values())
    assert not any(received[a] > 1 for a in recorded)               # recorded before the crash: never re-sent
    assert not any(received[by_id[i]] > 1 for i in journaled)       # journaled before the crash: never re-sent
    assert all(rows[a] == Status.UNKNOWN for a in twice)            # re-delivered rows say so
    # At most the message that was on the wire (email has one in flight) went twice, and only it is marked.
    assert len(twice) <= EmailMethod.in_flight
    assert set(rows.values()) <= {Status.SENT, Status.UNKNOWN}   # every row final
    unknown = [a for a, s in rows.items() if s == Status.UNKNOWN]
    assert 0 < len(unknown) <= EmailMethod.in_flight
    assert all("may have arrived twice" in r for r in MessageRecipient.objects.filter(
        message_sent=sent, status=Status.UNKNOWN).values_list("reason", flat=True))
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.sent_count + sent.unknown_count) == ("done", 0, N)
    assert sent.unknown_count == len(unknown)


def test_sigterm_finishes_the_chunk_in_hand_and_releases_the_rest(sender_user, settings, slow_smtp, workers):
    sent, addresses = email_broadcast(sender_user, settings, "sigterm")
    slow_smtp.handler.delay = 0.01
    env = {"SENDER_BATCH_SIZE": str(BATCH), "SENDER_CHECKPOINT_ROWS": str(CHUNK)}
    first = workers("first", batch=False, **env)
    wait_until(lambda: len(slow_smtp.recipients()) >= 30, what="the first worker to be mid-batch")
    first.signal(signal.SIGTERM)
    code, output = first.wait()
    assert code == 0, output
    assert "released" in output
    # Nothing half-done: every row is either recorded or free for the next worker.
    assert not MessageRecipient.objects.filter(message_sent=sent, claim__isnull=False).exists()
    delivered_by_first = len(slow_smtp.recipients())
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.SENT).count() == delivered_by_first
    assert delivered_by_first < N

    code, output = workers("second", **env).wait()
    assert code == 0, output
    assert Counter(slow_smtp.recipients()) == Counter(addresses)   # each exactly once
    assert statuses(sent) == {Status.SENT: N}
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count) == ("done", N, 0)
