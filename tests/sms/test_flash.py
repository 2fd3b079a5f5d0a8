"""Flash SMS (class 0) through the gateways kept as data: each kind with its real field, the
sandbox enforcing the providers' rules, and failover only among gateways that can send flash."""

from decimal import Decimal

import httpx
import pytest

import sender
from sender.channels.sms import gateways
from sender.channels.sms.models import SmsDispatch, SmsGateway
from sender.channels.sms.samples import TWILIO, VONAGE
from sender.models import MessageRecipient
from tests.factories import customers
from tests.sms.conftest import sms_settings
from tests.sms.test_delivery import send, settle
from tests.sms.test_sandbox_page import BROWSER, sandbox_base

Status = MessageRecipient.Status
NUMBER = "+393471200001"


@pytest.fixture
def flash_world(skebby, settings, monkeypatch):
    """The `sms` method on the gateways kept as data, sending from code as the system user;
    the gateways are made by each test, pointed at the sandbox."""
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    monkeypatch.setenv("VONAGE_SECRET", "vsecret")
    settings.SENDER = {**sms_settings(settings, "http://127.0.0.1:9/", backend="gateways"), "SYSTEM_USER": "robot"}
    return skebby


def twilio_at(base: str, **fields) -> SmsGateway:
    url = TWILIO["url"].replace("https://api.twilio.com", base)
    return SmsGateway.objects.create(name="twilio", **{**TWILIO, "url": url, "username": "AC123",
                                                        "secret_env": "TWILIO_TOKEN", "sender_id": "Shop", **fields})


def vonage_at(base: str, **fields) -> SmsGateway:
    url = VONAGE["url"].replace("https://rest.nexmo.com", base)
    return SmsGateway.objects.create(name="vonage", **{**VONAGE, "url": url, "username": "vkey",
                                                        "secret_env": "VONAGE_SECRET", "sender_id": "Shop",
                                                        "price_per_segment": Decimal("0.0333"), **fields})


def plain_at(base: str, **fields) -> SmsGateway:
    """The sandbox's plain HTTP gateway, told about flash by the admin's flash fields."""
    return SmsGateway.objects.create(**{
        "name": "plain", "url": f"{base}/http/send", "body_format": SmsGateway.BodyFormat.JSON,
        "request_template": {"to": "{to}", "text": "{text}", "from": "{sender}"}, "flash_params": {"flash": True},
        "success_path": "result", "success_values": "OK", "id_path": "id", "sender_id": "Shop", **fields})


def test_a_flash_sms_through_vonage_arrives_flagged_class_0_at_the_sandbox(flash_world, transactional_db):
    vonage_at(sandbox_base(flash_world))
    assert sender.get_connection("sms").supports_flash
    [row] = sender.send_sms("Door code 4711", None, [NUMBER], flash=True)
    assert (row.status, row.message_sent.extra["flash"]) == (Status.SENT, True)
    [plain] = sender.send_sms("No flash", None, [NUMBER])
    first, second = flash_world.state.arrived
    assert (first.kind, first.number, first.text, first.flash) == ("vonage", NUMBER, "Door code 4711", True)
    assert (second.text, second.flash) == ("No flash", False)  # an ordinary SMS carries no message class
    assert {d.gateway.name for d in SmsDispatch.objects.all()} == {"vonage"}
    page = httpx.get(f"{sandbox_base(flash_world)}/_sandbox/", headers=BROWSER).text
    assert page.count("Flash SMS</strong>") == 1  # the page shows which one was flash
    assert 'class="flash">Flash SMS</strong> (class 0: shown at once, not stored)<br>Door code 4711' in page


def test_vonage_takes_a_message_class_from_0_to_3_only(flash_world, transactional_db):
    base = sandbox_base(flash_world)
    answers = {klass: httpx.post(f"{base}/sms/json", data={"from": "Shop", "to": NUMBER[1:], "text": "Hi",
                                                           "message-class": klass}).json()["messages"][0]
               for klass in ("0", "3", "4", "flash")}
    assert [answers[k]["status"] for k in ("0", "3", "4", "flash")] == ["0", "0", "3", "3"]
    assert answers["4"]["error-text"] == "Invalid message-class param"
    assert [a.flash for a in flash_world.state.arrived] == [True, False]  # class 3 is not flash

    vonage_at(base, flash_params={"message-class": "5"})  # an admin's typo: Vonage refuses it, for good
    with pytest.raises(sender.NotSent, match="vonage refused the SMS: Invalid message-class param"):
        sender.send_sms("Door code 4711", None, [NUMBER], flash=True)
    assert MessageRecipient.objects.get().status == Status.FAILED and len(flash_world.state.arrived) == 2


def test_a_flash_order_with_only_twilio_is_refused_for_good_with_the_reason(flash_world, sender_user, run_worker):
    twilio_at(sandbox_base(flash_world))
    assert not sender.get_connection("sms").supports_flash
    with pytest.raises(sender.BadMessage, match="cannot send flash SMS"):  # from code: refused before writing
        sender.send_sms("Door code 4711", None, [NUMBER], flash=True)
    assert not MessageRecipient.objects.exists()

    customers(2)
    sent = send(sender_user, body="Door code 4711", flash=True)  # committed as flash: refused when delivered
    settle(run_worker)
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert {r.status for r in rows} == {Status.FAILED}
    assert {r.reason for r in rows} == {
        "No enabled SMS gateway of the send method sms can send flash SMS (they need flash SMS fields; Twilio "
        "and Skebby have none), so the flash SMS was not sent."}
    assert flash_world.calls("POST twilio") == 0 and not flash_world.state.arrived  # never as an ordinary SMS
    assert not SmsDispatch.objects.exists()


def test_failover_skips_the_gateways_that_cannot_send_flash(flash_world, sender_user, run_worker):
    base = sandbox_base(flash_world)
    vonage_at("http://127.0.0.1:9", priority=1)  # can send flash, but nothing listens there
    twilio_at(base, priority=2)
    plain_at(base, priority=3)
    people = customers(3)
    sent = send(sender_user, body="Door code 4711", flash=True)
    settle(run_worker)
    assert flash_world.calls("POST twilio") == 0
    arrived = {a.number: (a.kind, a.flash) for a in flash_world.state.arrived}
    assert arrived == {p.phone: ("http", True) for p in people}
    by_gateway = set(SmsDispatch.objects.filter(recipient__message_sent=sent).values_list("gateway__name", flat=True))
    assert by_gateway == {"plain"}
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.SENT).count() == 3

    ordinary = send(sender_user, body="Shop closed")  # an ordinary SMS may go through Twilio
    settle(run_worker)
    assert flash_world.calls("POST twilio") == 3
    assert MessageRecipient.objects.filter(message_sent=ordinary, status=Status.SENT).count() == 3


def test_numbers_only_a_non_flash_gateway_serves_fail_a_flash_order(flash_world, sender_user, run_worker):
    base = sandbox_base(flash_world)
    vonage_at(base, prefixes="+41", priority=1)
    twilio_at(base, priority=2)  # serves the Italian numbers, but has no flash
    customers(2)
    sent = send(sender_user, body="Door code 4711", flash=True)
    settle(run_worker)
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert {(r.status, r.reason) for r in rows} == {
        (Status.FAILED, "No enabled SMS gateway that can send flash SMS serves these numbers.")}
    assert not flash_world.state.arrived


def test_the_plain_gateway_refuses_a_flash_value_it_does_not_know(flash_world):
    base = sandbox_base(flash_world)
    refused = httpx.post(f"{base}/http/send", json={"to": NUMBER, "text": "Hi", "flash": "yes"})
    assert (refused.status_code, refused.json()["error"]) == (400, "flash must be true or false")
    taken = httpx.post(f"{base}/http/send", data={"to": NUMBER, "text": "Hi", "flash": "1"})
    assert taken.status_code == 200 and [a.flash for a in flash_world.state.arrived] == [True]


def test_skebby_gateways_take_no_flash_fields(db):
    skebby = SmsGateway(name="skebby", kind=SmsGateway.Kind.SKEBBY, url="http://127.0.0.1:9/", username="u",
                        secret_env="SKEBBY_PASSWORD", flash_params={"flash": "1"})
    assert "Skebby's API has no flash SMS field: leave the flash SMS fields empty." in gateways.problems(skebby)
    assert not skebby.can_flash
    wrong = SmsGateway(name="plain", url="http://127.0.0.1:9/send", request_template={"to": "{to}"},
                       flash_params={"flash": "{urgent}"}, sample_answer={"ok": True})
    assert any("Unknown placeholder {urgent}" in p for p in gateways.problems(wrong))  # checked as a flash request
