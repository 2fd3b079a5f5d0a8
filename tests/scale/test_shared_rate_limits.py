"""Telegram's limits hold across worker processes: four real workers share one bot's limits
(through Redis when the run has it, the database otherwise), counted at the sandbox Bot API
by when each request arrived, refused ones included."""

import pytest
from django.test import override_settings

from sender.dev.sandbox import telegram as sandbox_module
from sender.dev.sandbox.telegram import DEFAULT_TOKEN
from sender.models import MessageRecipient, MessageSent
from tests.telegram.conftest import method_settings
from tests.telegram.test_sending import JITTER_429, linked_customers, send

RATE = 40  # the sandbox's limit: small, so 1,000 chats take ~30 s whatever the number of workers
# The workers are configured a margin below it, as in production, so that a loaded machine
# bunching requests on their way to the sandbox does not carry them over it.
SENDER_RATE = 36
CHATS = 1000


def most_requests_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
def telegram_sandbox():
    server = sandbox_module.start(rate=RATE, chat_interval=1.0)
    try:
        yield server
    finally:
        server.stop()


def test_four_workers_together_stay_within_one_bots_limits(sender_user, settings, workers, telegram_sandbox):
    state = telegram_sandbox.state
    telegram = method_settings(telegram_sandbox, rate=SENDER_RATE, chat_interval=1.0)
    config = {**settings.SENDER, "BATCH_SIZE": 50, "METHODS": {**settings.SENDER["METHODS"], "telegram": telegram}}
    with override_settings(SENDER=config):
        linked_customers(CHATS)
        sent = send(sender_user, key="shared-limits")
    env = {"SENDER_BATCH_SIZE": "50", "SENDER_TELEGRAM_TOKEN": DEFAULT_TOKEN,
           "SENDER_TELEGRAM_API_URL": telegram_sandbox.base_url,
           "SENDER_TELEGRAM_FILE_URL": f"{telegram_sandbox.url}/file/bot",
           "SENDER_TELEGRAM_RATE": str(SENDER_RATE), "SENDER_TELEGRAM_CHAT_INTERVAL": "1",
           "SENDER_RETRY_BACKOFF": "0.5", "SENDER_RETRY_BACKOFF_MAX": "1"}
    running = [workers(f"tg{i}", **env) for i in range(4)]
    for worker in running:
        code, output = worker.wait(timeout=300)
        assert code == 0, output

    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count) == (MessageSent.Status.DONE, CHATS)
    assert set(MessageRecipient.objects.values_list("status", flat=True)) == {MessageRecipient.Status.DELIVERED}
    assert sorted(s["chat_id"] for s in state.sent) == sorted({s["chat_id"] for s in state.sent})  # once each
    assert len(state.sent) == CHATS
    requests = [s["at"] for s in state.sent] + [at for at, _chat in state.flood_times]
    assert most_requests_in_a_second(requests) <= RATE
    assert state.refused.get(429, 0) <= JITTER_429
