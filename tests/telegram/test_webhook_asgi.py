"""The webhook under the real ASGI server, fed by the sandbox as Telegram feeds it: several
updates in parallel on a server that has not yet made its bot Application."""

import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from sender.audience.models import Customer
from sender.channels.telegram.models import TelegramLink
from sender.dev.sandbox.telegram import DEFAULT_TOKEN
from sender.models import IncomingMessage
from tests.processes import process_env
from tests.smtp import free_port
from tests.telegram.conftest import CHAT_INTERVAL, RATE, SECRET

CHATS = range(5_550_001, 5_550_009)


@pytest.fixture
def asgi_server(sandbox, transactional_db):
    """daphne on the test database, its Telegram method pointed at the sandbox."""
    port = free_port()
    env = process_env(DJANGO_SETTINGS_MODULE="tests.settings", SENDER_TELEGRAM_TOKEN=DEFAULT_TOKEN,
                      SENDER_TELEGRAM_API_URL=sandbox.base_url, SENDER_TELEGRAM_FILE_URL=f"{sandbox.url}/file/bot",
                      SENDER_TELEGRAM_WEBHOOK_SECRET=SECRET, SENDER_TELEGRAM_RATE=str(RATE),
                      SENDER_TELEGRAM_CHAT_INTERVAL=str(CHAT_INTERVAL))
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                "project.asgi:application"], env=env, cwd=settings.BASE_DIR,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + "/accounts/login/"))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not there in time"
        time.sleep(0.05)


def test_updates_delivered_in_parallel_to_a_fresh_server_are_each_handled_once_by_one_bot(sandbox, asgi_server):
    ct = ContentType.objects.get_for_model(Customer)
    for chat in CHATS:
        person = Customer.objects.create(first_name="P", last_name=str(chat), telegram_chat_id=str(chat))
        TelegramLink.objects.create(content_type=ct, object_id=str(person.pk), chat_id=chat)
    state = sandbox.state
    with state.lock:
        state.webhook.update(url=f"{asgi_server}/telegram/webhook/", secret=SECRET, max_connections=8)
        state.auto_deliver = True
    for chat in CHATS:  # one update per chat: eight queues, all delivered at once
        state.send_text(chat, f"Hello from {chat}")

    wait_until(lambda: not state.updates)

    assert sorted(IncomingMessage.objects.values_list("text", flat=True)) == [f"Hello from {c}" for c in CHATS]
    assert [status for _id, status in state.deliveries] == [200] * len(CHATS)  # each accepted, the first time
    assert state.calls["getMe"] == 1  # the first requests shared one Application, made once
