"""SMS in a real browser (issues 16.9, 18): the sandbox's page shows a broadcast's SMS arrive
and its "Delivered" button moves the broadcast page; the admin creates a gateway, refuses a
broken one with the reason, and its "send a test SMS" action shows the result."""

import time

import pytest
from django.contrib.auth.models import Permission, User

from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.factories import customers
from tests.history_world import send
from tests.sms.providers import Provider

pytestmark = pytest.mark.browser


@pytest.fixture
def skebby_sandbox(monkeypatch):
    """A Skebby sandbox whose orders never move by themselves; the product (started after
    this fixture) sends to it and polls it every second."""
    server = SkebbySandbox(state=SkebbyState(step=3600)).start()
    monkeypatch.setenv("SENDER_SKEBBY_URL", server.url)
    monkeypatch.setenv("SENDER_SMS_BACKEND", "skebby")
    monkeypatch.setenv("SENDER_SMS_POLL_INTERVAL", "1")
    yield server
    server.stop()


def wait_until(condition, seconds: float = 30) -> None:
    """The worker is another process: wait for what it does, without asserting how fast."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there"
        time.sleep(0.2)


def test_a_broadcast_sms_arrives_on_the_sandbox_page_and_its_report_moves_the_broadcast(
        skebby_sandbox, page, sender_user):
    anna, bruno = customers(2)
    broadcast = send(sender_user, [anna, bruno], ["sms"], body="Negozio chiuso lunedì")
    wait_until(lambda: len(skebby_sandbox.state.received) == 2)

    sandbox = skebby_sandbox.url.split("/API/")[0]
    page.goto(f"{sandbox}/_sandbox/")
    row = page.locator("tr", has_text=anna.phone)
    assert "Negozio chiuso lunedì" in row.inner_text() and "accepted" in row.inner_text()
    assert_accessible(page, "the SMS sandbox page")
    row.get_by_role("button", name="Delivered").click()
    page.wait_for_selector(f"tr:has-text('{anna.phone}') .status:has-text('delivered (DLVRD)')")
    bruno_row = page.locator("tr", has_text=bruno.phone)
    bruno_row.get_by_label("reason").select_option("BLACKLISTED")
    bruno_row.get_by_role("button", name="Failed").click()
    page.wait_for_selector(f"tr:has-text('{bruno.phone}') .status:has-text('failed (BLACKLISTED)')")
    shot(page, "sms-sandbox")

    log_in(page, "sally", "pw-sally-123")
    page.goto(broadcast.get_absolute_url())
    page.wait_for_selector("#rows tr[data-row] .badge.delivered")  # at the product's next poll
    page.wait_for_selector("#rows tr[data-row] .badge.failed")
    assert "blacklist" in page.inner_text("#rows")


@pytest.fixture
def twilio_fake(monkeypatch):
    """Twilio's documented API on loopback; its token in the product's environment."""
    fake = Provider("twilio")
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    yield fake
    fake.stop()


def test_the_admin_creates_a_gateway_refuses_a_broken_one_and_sends_a_test_sms(twilio_fake, page):
    admin = User.objects.create_user("gina", "gina@example.com", "pw-gina-123", is_staff=True)
    admin.user_permissions.add(Permission.objects.get(codename="manage_smsgateway"))
    log_in(page, "gina", "pw-gina-123")
    page.goto("/admin/sender_sms/smsgateway/add/?sample=twilio")
    page.fill("#id_name", "twilio")
    page.fill("#id_url", twilio_fake.url + "/2010-04-01/Accounts/{username}/Messages.json")
    page.fill("#id_username", "AC123")
    page.fill("#id_secret_env", "TWILIO_TOKEN")
    page.fill("#id_sender_id", "Shop")
    page.fill("#id_request_template", '{"To": "{to}", "From": "{sender}", "Body": "{message}"}')
    page.click("input[name=_save]")
    error = page.locator(".errornote, .errorlist").first
    error.wait_for()
    assert "Unknown placeholder {message}" in page.inner_text("#content")
    assert page.url.endswith("/add/?sample=twilio")

    page.fill("#id_request_template", '{"To": "{to}", "From": "{sender}", "Body": "{text}"}')
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    assert "twilio" in page.inner_text("#result_list")

    page.locator("#result_list input.action-select").first.check()
    page.select_option("select[name=action]", "send_test_sms")
    page.click("button[name=index]")
    page.fill("input[name=number]", "+393471234567")
    page.fill("input[name=text]", "Prova dal browser")
    page.click("#content form [type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Twilio: sent, message id SM" in page.inner_text(".messagelist")
    assert twilio_fake.received == {"+393471234567": 1} and twilio_fake.texts == ["Prova dal browser"]
    shot(page, "sms-gateway-admin")
