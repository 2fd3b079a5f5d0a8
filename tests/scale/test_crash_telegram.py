"""A Telegram worker killed with SIGKILL mid-broadcast, counted at the sandbox Bot API.

Chats are sent to concurrently (the method's `concurrency`, 32 by default), each outcome
journaled the moment Telegram answered. The worker that takes over records what the dead
worker's journal proves and sends again, marked "may have arrived twice", only the chats that
may have been in flight: at most one window, not the whole 1,000-row chunk as before.
"""

import signal
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import override_settings

from sender.channels.telegram.method import DEFAULTS
from sender.dev.sandbox import telegram as sandbox_module
from sender.dev.sandbox.telegram import DEFAULT_TOKEN
from sender.models import MessageRecipient
from sender.pipeline import journal
from sender.pipeline.deliver import expired_batches
from tests.scale.conftest import wait_until
from tests.telegram.conftest import method_settings
from tests.telegram.test_sending import linked_customers, send

Status = MessageRecipient.Status
CHATS = 300  # one batch, one chunk (Telegram checkpoints every 1,000 rows)
RATE = 300
WINDOW = DEFAULTS["concurrency"]


@pytest.fixture
def slow_telegram():
    """The sandbox, answering each send 50 ms after accepting it: a window of chats is always
    on the wire, accepted by Telegram but not yet answered."""
    server = sandbox_module.start(rate=RATE, chat_interval=0.2)
    server.state.faults.delay = 0.05
    try:
        yield server
    finally:
        server.stop()


def test_sigkill_mid_telegram_broadcast_resends_and_marks_only_the_chats_in_flight(
        sender_user, settings, workers, slow_telegram):
    state = slow_telegram.state
    config = {**settings.SENDER, "BATCH_SIZE": CHATS,
              "METHODS": {**settings.SENDER["METHODS"], "telegram": method_settings(slow_telegram)}}
    with override_settings(SENDER=config):
        people = linked_customers(CHATS)
        sent = send(sender_user, key="telegram-sigkill")
    chats = {str(p.telegram_chat_id) for p in people}
    env = {"SENDER_BATCH_SIZE": str(CHATS), "SENDER_LEASE_SECONDS": "2", "SENDER_TELEGRAM_TOKEN": DEFAULT_TOKEN,
           "SENDER_TELEGRAM_API_URL": slow_telegram.base_url,
           "SENDER_TELEGRAM_FILE_URL": f"{slow_telegram.url}/file/bot",
           "SENDER_TELEGRAM_RATE": str(RATE * 0.9), "SENDER_TELEGRAM_CHAT_INTERVAL": "0.2"}
    victim = workers("victim", batch=False, **env)
    wait_until(lambda: len(state.sent) >= CHATS // 4, what="the first worker to be mid-broadcast")
    victim.signal(signal.SIGKILL)
    victim.wait()
    before_crash = Counter(str(s["chat_id"]) for s in state.sent)
    assert len(before_crash) < CHATS  # killed mid-chunk: nothing of it is recorded in the rows yet
    assert not MessageRecipient.objects.filter(message_sent=sent).exclude(status=Status.PENDING).exists()
    by_id = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("id", "address"))
    [left] = journal.left_for(sent.pk, 0)
    journaled = journal.read(left).outcomes
    # The journal names only chats Telegram accepted, and all of them but a window at most.
    assert {by_id[i] for i in journaled} <= set(before_crash)
    assert len(before_crash) - len(journaled) <= WINDOW
    assert {o.status for o in journaled.values()} == {Status.DELIVERED}

    wait_until(lambda: expired_batches(), timeout=30, what="the lease to run out")
    call_command("sender_periodic", "--once")
    code, output = workers("rescuer", **env).wait()
    assert code == 0, output

    received = Counter(str(s["chat_id"]) for s in state.sent)
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "status"))
    twice = {chat for chat, n in received.items() if n > 1}
    assert set(received) == chats                                   # lost: 0
    assert all(n <= 2 for n in received.values())
    assert not any(received[by_id[i]] > 1 for i in journaled)       # journaled before the crash: never re-sent
    assert len(twice) <= WINDOW                                     # only what was in flight went twice
    assert all(rows[chat] == Status.UNKNOWN for chat in twice)      # and says so
    unknown = [chat for chat, s in rows.items() if s == Status.UNKNOWN]
    assert 0 < len(unknown) <= WINDOW                               # marked: one window, not the chunk
    assert set(rows.values()) <= {Status.DELIVERED, Status.UNKNOWN}
    assert all("may have arrived twice" in r for r in MessageRecipient.objects.filter(
        message_sent=sent, status=Status.UNKNOWN).values_list("reason", flat=True))
    sent.refresh_from_db()
    assert (sent.status, sent.pending_count, sent.delivered_count, sent.unknown_count) == (
        "done", 0, CHATS - len(unknown), len(unknown))
