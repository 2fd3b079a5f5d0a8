import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from sender.audience.models import OptOut
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers

Status = MessageRecipient.Status
EVERYONE = {"recipients.customer": {"filter": ""}}


def send(user, methods=("email", "storage"), key="key-1", background=None, **draft):
    draft.setdefault("body", "Hello")
    draft.setdefault("subject", "Greetings")
    return commit(Selection.parse(EVERYONE), user, list(methods), Draft(**draft), key, background=background)


def test_it_writes_one_sent_row_per_method_and_one_recipient_row_per_address(sender_user):
    cs = customers(4)
    cs[1].email = cs[0].email.upper()
    cs[2].email = "broken"
    for c in cs[1:3]:
        c.save()
    broadcast = send(sender_user)
    email, storage = broadcast.sents.get(method="email"), broadcast.sents.get(method="storage")
    assert (email.pending_count, email.duplicate_count, email.invalid_count) == (2, 1, 1)
    assert (storage.pending_count, storage.duplicate_count, storage.invalid_count) == (4, 0, 0)
    assert email.status == MessageSent.Status.QUEUED
    assert MessageRecipient.objects.filter(message_sent=email).count() == 4
    invalid = MessageRecipient.objects.get(message_sent=email, status=Status.INVALID)
    assert invalid.address == "broken" and "not an email address" in invalid.reason
    assert broadcast.subject == "Greetings" and broadcast.sender == sender_user
    assert broadcast.selection == EVERYONE


def test_the_same_idempotency_key_sends_once(sender_user):
    customers(3)
    first = send(sender_user, key="double-click")
    second = send(sender_user, key="double-click")
    assert first == second
    assert Broadcast.objects.count() == 1
    assert MessageRecipient.objects.count() == 6
    assert DBTaskResult.objects.count() == 2  # one batch per method, queued once


def test_another_users_idempotency_key_is_refused(sender_user, perm_user):
    customers(1)
    send(sender_user, key="shared")
    with pytest.raises(SelectionError, match="already used by someone else"):
        send(perm_user, key="shared")


def test_a_user_without_permission_cannot_send(nosend_user, outsider):
    customers(1)
    for user in (nosend_user, outsider):
        with pytest.raises(PermissionDenied):
            send(user)
    assert not Broadcast.objects.exists()


def test_the_send_permission_alone_is_enough(perm_user):
    customers(1)
    assert send(perm_user).sents.count() == 2


@pytest.mark.parametrize("methods, draft, message", [
    ((), {}, "at least one send method"),
    (("fax",), {}, "Unknown send method: fax"),
    (("storage",), {"body": "   "}, "body is empty"),
    (("email",), {"subject": ""}, "Email needs a subject"),
])
def test_bad_message_input_is_refused_and_nothing_is_written(sender_user, methods, draft, message):
    customers(2)
    with pytest.raises(SelectionError, match=message):
        send(sender_user, methods=methods, **draft)
    assert not Broadcast.objects.exists() and not MessageRecipient.objects.exists()


def test_an_empty_selection_is_refused(sender_user):
    with pytest.raises(SelectionError, match="nobody matches"):
        send(sender_user)
    assert not Broadcast.objects.exists()


def test_rows_are_numbered_in_batches_and_one_task_is_queued_per_batch(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 10}
    customers(25)
    broadcast = send(sender_user, methods=("storage",))
    sent = broadcast.sents.get()
    batches = sorted(MessageRecipient.objects.filter(message_sent=sent).values_list("batch", flat=True))
    assert batches == [0] * 10 + [1] * 10 + [2] * 5
    assert sorted(r.args_kwargs["args"][1] for r in DBTaskResult.objects.all()) == [0, 1, 2]


@pytest.mark.parametrize("n", [50, 200])
def test_commit_queries_grow_with_batches_not_recipients(sender_user, settings, n):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 50}
    customers(n)
    batches = n // 50
    with CaptureQueriesContext(connection) as queries:
        send(sender_user, methods=("email",), background=False)  # in the request: no COUNT to decide
    # One executemany per batch (Django logs it as "N times: INSERT ...").
    inserts = [q for q in queries if 'INSERT INTO "sender_messagerecipient"' in q["sql"]  # SQLite
               or q["sql"].startswith('COPY "sender_messagerecipient"')]  # PostgreSQL
    assert len(inserts) == batches
    # Fixed cost (checks, broadcast, sent row, counters) + one INSERT and one task per batch,
    # + one query for the opt-outs; the sents are published as written, not read again.
    assert len(queries) == 11 + 2 * batches


@pytest.mark.parametrize("preloaded", [True, False])
def test_rows_are_the_same_whether_the_next_chunk_is_classified_during_the_write_or_after(
        sender_user, settings, monkeypatch, preloaded):
    """Commit classifies the next chunk while the database writes this one (opt-outs loaded
    up front), or one after the other (too many opt-outs: looked up per chunk). Chunks much
    smaller than classify's reads, two methods, duplicates across chunks: every recipient
    gets its row per method, batches are numbered in order, every duplicate is counted."""
    if not preloaded:
        monkeypatch.setattr("sender.audience.optout.PRELOAD_MAX", 0)
        OptOut.objects.create(method="email", address="c59@example.com")  # one more than preloaded
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 7}
    cs = customers(60)
    for c in cs[50:]:
        c.email = cs[0].email.upper()  # ten duplicates of the first address
        c.save()
    with CaptureQueriesContext(connection) as queries:
        broadcast = send(sender_user, methods=("email", "storage"), background=False)
    email = broadcast.sents.get(method="email")
    storage = broadcast.sents.get(method="storage")
    assert (email.pending_count, email.duplicate_count, storage.pending_count) == (50, 10, 60)
    assert email.opted_out_count == 0  # c59's address is now a duplicate: the opt-out names nobody
    rows = MessageRecipient.objects.filter(message_sent=email, status=Status.PENDING)
    assert sorted(rows.values_list("batch", flat=True)) == sorted(i // 7 for i in range(50))
    assert MessageRecipient.objects.filter(message_sent=storage).values("object_id").distinct().count() == 60
    inserts = [q for q in queries if 'INSERT INTO "sender_messagerecipient"' in q["sql"]
               or q["sql"].startswith('COPY "sender_messagerecipient"')]
    assert len(inserts) == -(-120 // 7)  # one write per chunk of 7 rows
