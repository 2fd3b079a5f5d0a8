"""The crash journal, as the worker that takes over a dead worker's rows reads it.

The dead worker is staged (its claim, an expired lease, the journal it wrote); the real
worker then delivers to a real SMTP server, which counts what arrives. The SIGKILL of a real
process is in tests/scale/test_crash.py.
"""

import uuid
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft, Outcome
from sender.channels.base import RETRY, report, reporting_to
from sender.models import MessageRecipient, MessageSent
from sender.pipeline import journal
from sender.pipeline.commit import commit
from tests.factories import customers

Status = MessageRecipient.Status


def dead_worker(user, n: int) -> tuple[MessageSent, list[MessageRecipient], uuid.UUID]:
    """An email broadcast of n rows, all held by a worker whose lease ran out."""
    customers(n)
    sent = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["email"],
                  Draft(body="Hello", subject="Journal"), uuid.uuid4().hex).sents.get()
    token = uuid.uuid4()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=token, lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    return sent, list(MessageRecipient.objects.filter(message_sent=sent).order_by("id")), token


def statuses(sent: MessageSent) -> list[str]:
    return list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))


def test_rows_the_journal_proves_taken_are_recorded_and_only_the_next_one_is_marked(
        sender_user, smtp_server, run_worker):
    sent, rows, token = dead_worker(sender_user, 6)
    log = journal.Journal(sent.pk, 0, token)
    log.write([Outcome(rows[0].id, Status.SENT), Outcome(rows[1].id, Status.FAILED, "550 No such user"),
               Outcome(rows[2].id, RETRY, "451 Try later"), Outcome(rows[3].id, Status.SENT)])
    log.close(keep=True)  # the worker died: its journal stays

    run_worker()

    # Sent once each: the row the server deferred, the one that was on the wire, and the untouched.
    assert Counter(smtp_server.recipients()) == Counter(r.address for r in rows[2:3] + rows[4:])
    assert statuses(sent) == ["sent", "failed", "sent", "sent", "unknown", "sent"]
    assert MessageRecipient.objects.get(pk=rows[1].pk).reason == "550 No such user"
    assert "may have arrived twice" in MessageRecipient.objects.get(pk=rows[4].pk).reason
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.failed_count, sent.unknown_count) == ("done", 4, 1, 1)
    assert not journal.left_for(sent.pk, 0)  # read and recorded: removed


def test_a_journal_from_before_a_reboot_proves_its_lines_and_the_chunk_is_marked(
        sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "CHECKPOINT_ROWS": 3}
    sent, rows, token = dead_worker(sender_user, 6)
    path = journal.path_for(sent.pk, 0, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under another boot, and torn by the power cut: lines after the first may be lost.
    path.write_text(f"#sender-journal 1 boot=another-boot pid=1\n{rows[0].id}\tsent\t1\t\t\n{rows[1].id}\tse")

    run_worker()

    assert Counter(smtp_server.recipients()) == Counter(r.address for r in rows[1:])
    # The chunk that may have been on the wire (3 rows after the last line proved) says so.
    assert statuses(sent) == ["sent", "unknown", "unknown", "unknown", "sent", "sent"]


def test_without_a_journal_the_whole_chunk_is_marked(sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "CHECKPOINT_ROWS": 2}
    sent, rows, _token = dead_worker(sender_user, 5)  # a worker on another machine: no file here

    run_worker()

    assert Counter(smtp_server.recipients()) == Counter(r.address for r in rows)
    assert statuses(sent) == ["unknown", "unknown", "sent", "sent", "sent"]


def test_a_method_reports_to_the_journal_as_the_gateway_answers(tmp_path, settings):
    settings.SENDER = {**settings.SENDER, "JOURNAL_DIR": str(tmp_path)}
    log = journal.Journal(7, 2, uuid.uuid4())
    with reporting_to(log):
        report(Outcome(1, Status.SENT, "order 9\tok", "9"), Outcome(2, Status.SENT, "", "9"))
        report(Outcome(1, Status.SENT))  # already journaled: written once
    report(Outcome(3, Status.SENT))  # nobody listening: nothing happens
    found = journal.read(log.path)
    assert found.complete and found.last == 2
    assert found.outcomes == {1: Outcome(1, Status.SENT, "order 9 ok", "9"), 2: Outcome(2, Status.SENT, "", "9")}
    log.close()
    assert not log.path.exists()


def test_a_worker_killed_right_after_its_claim_leaves_a_journal_and_marks_one_row_at_most(
        sender_user, smtp_server, run_worker, monkeypatch):
    """The journal is opened before the claim: a worker that dies between claiming and sending
    leaves an empty journal, so the next worker marks only the row that could have been on
    the wire, not the whole chunk (which it did when the journal was opened after the claim)."""
    from sender.pipeline import deliver

    customers(8)
    sent = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                  Draft(body="Hello", subject="Journal"), "claimed-then-killed").sents.get()
    claim = deliver.take

    def take_then_die(*args, **kwargs):
        claim(*args, **kwargs)
        raise KeyboardInterrupt  # the process ends here, as under SIGKILL: nothing sent

    monkeypatch.setattr(deliver, "take", take_then_die)
    try:
        deliver.deliver_batch(sent.pk, 0)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(deliver, "take", claim)
    held = MessageRecipient.objects.filter(message_sent=sent, claim__isnull=False, status=Status.PENDING)
    assert held.count() == 8 and smtp_server.recipients() == []
    assert len(journal.left_for(sent.pk, 0)) == 1
    held.update(lease_until=timezone.now() - timedelta(seconds=1))  # its lease runs out

    run_worker()

    assert Counter(smtp_server.recipients()) == Counter(MessageRecipient.objects.filter(
        message_sent=sent).values_list("address", flat=True))  # each once
    assert statuses(sent).count("unknown") == 1 and statuses(sent).count("sent") == 7
    assert not journal.left_for(sent.pk, 0)
