"""SMS fixtures: the Skebby sandbox on a free loopback port, and the SMS method pointed at it."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState
from tests.sms.providers import Provider


def sms_settings(settings, url: str, **options) -> dict:
    """SENDER with the SMS method on `url`: fast retries, polling due at once."""
    config = dict(settings.SENDER)
    methods = dict(config["METHODS"])
    sms = methods["sms"]
    methods["sms"] = {**sms, "OPTIONS": {
        **sms["OPTIONS"], "backend": "skebby", "url": url, "username": "sandbox", "password": "sandbox",
        "auth": "session", "timeout": 2, "retries": 2, "backoff": 0.01, "backoff_max": 0.05, "poll_interval": 0,
        "incoming": True, **options,
    }}
    return {**config, "METHODS": methods, "RETRY_BACKOFF": 0.01, "RETRY_BACKOFF_MAX": 0.05}


class Skebby:
    """The running sandbox, its state, and helpers to point the SMS method at it."""

    def __init__(self, server: SkebbySandbox):
        self.server = server
        self.state = server.state
        self.url = server.url

    def calls(self, name: str) -> int:
        return self.state.calls[name]


@pytest.fixture
def skebby(settings):
    """A Skebby sandbox on 127.0.0.1 (free port); the `sms` method points at it."""
    server = SkebbySandbox(state=SkebbyState(step=60.0)).start()  # states move only when a test says
    try:
        with override_settings(SENDER=sms_settings(settings, server.url)):
            yield Skebby(server)
    finally:
        server.stop()


def time_passes(seconds: float, sandbox: Skebby | None = None) -> None:
    """Let `seconds` go by for the sandbox's orders, and make the queued poll tasks and the
    open orders due now (as if the clock had moved), so the real worker runs them."""
    from django_tasks_db.models import DBTaskResult

    from sender.channels.sms.models import GatewayOrder

    if sandbox is not None:
        sandbox.state.advance(seconds)
    now = timezone.now()
    DBTaskResult.objects.filter(status="READY", run_after__gt=now).update(run_after=now)
    GatewayOrder.objects.filter(open=True).update(next_poll_at=now - timedelta(seconds=1))


@pytest.fixture
def twilio():
    fake = Provider("twilio")
    yield fake
    fake.stop()


@pytest.fixture
def vonage():
    fake = Provider("vonage", user="vkey", secret="vsecret")
    yield fake
    fake.stop()


@pytest.fixture
def gateways_method(settings, monkeypatch):
    """The `sms` method sends through the SmsGateway rows; their secrets in the environment."""
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    monkeypatch.setenv("VONAGE_SECRET", "vsecret")
    monkeypatch.setenv("PUSH_KEY", "push-key")
    with override_settings(SENDER=sms_settings(settings, "http://127.0.0.1:9/", backend="gateways")):
        yield
