"""A Telegram Bot API sandbox on loopback per test, with the Telegram method pointed at it.

Tests run both sides at a scaled-up limit (RATE messages per second overall, one message
per CHAT_INTERVAL seconds per chat) to stay quick; the benchmark uses Telegram's own."""

import pytest
from django.test import Client

from sender.dev.sandbox import telegram as sandbox_module
from sender.dev.sandbox.telegram import DEFAULT_TOKEN, TelegramSandbox

RATE = 200
CHAT_INTERVAL = 0.2
SECRET = "test-webhook-secret_1"


def method_settings(sandbox: TelegramSandbox, **options) -> dict:
    return {
        "BACKEND": "sender.channels.telegram.method.TelegramMethod",
        "OPTIONS": {"token": DEFAULT_TOKEN, "base_url": sandbox.base_url, "base_file_url": f"{sandbox.url}/file/bot",
                    "rate": RATE, "chat_interval": CHAT_INTERVAL, "webhook_secret": SECRET, "max_retries": 3,
                    **options},
    }


@pytest.fixture
def sandbox(settings):
    """The running sandbox; SENDER["METHODS"]["telegram"] points at it, retries come fast."""
    server = sandbox_module.start(rate=RATE, chat_interval=CHAT_INTERVAL)
    server.state.auto_deliver = False
    settings.SENDER = {**settings.SENDER, "RETRY_BACKOFF": 0.2, "RETRY_BACKOFF_MAX": 1.0,
                       "METHODS": {**settings.SENDER["METHODS"], "telegram": method_settings(server)}}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def staff_client(sender_user) -> Client:
    client = Client()
    client.force_login(sender_user)
    return client
