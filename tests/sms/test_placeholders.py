"""SMS with placeholders: each number's text reaches the Skebby sandbox in one parametric call
per batch, each row is charged its own segments, escaped braces arrive literally."""

import uuid
from decimal import Decimal

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.backends import LocmemBackend
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.sms.conftest import sms_settings
from tests.sms.test_delivery import settle
from tests.sms.test_gateways import twilio_gateway

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def sms_to_everyone(user, body: str) -> MessageSent:
    return commit(EVERYONE, user, ["sms"], Draft(body=body), uuid.uuid4().hex).sents.get()


def test_sms_reaches_skebby_as_one_parametric_call_per_batch_with_each_numbers_text(
        sender_user, skebby, run_worker, settings):
    settings.SENDER = {**sms_settings(settings, skebby.url, batch_size=10),
                       **{k: v for k, v in settings.SENDER.items() if k != "METHODS"}}
    people = customers(20)
    sent = sms_to_everyone(sender_user, "Ciao {{ first_name }}, il negozio è chiuso.")
    settle(run_worker)
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count) == (MessageSent.Status.DONE, 20)
    assert skebby.calls("POST paramsms") == 2 and skebby.calls("POST sms") == 0
    got = {number: text for order in skebby.state.orders.values() for number, text in order.texts.items()}
    assert got == {c.phone: f"Ciao {c.first_name}, il negozio è chiuso." for c in people}


def test_sms_rows_are_charged_the_segments_of_their_own_text(sender_user, skebby, run_worker):
    Customer.objects.create(first_name="Al", phone="+393471200001")
    Customer.objects.create(first_name="B" * 100, last_name="B" * 100, phone="+393471200002")
    sent = sms_to_everyone(sender_user, "Hi {{ first_name }}{{ last_name }}")
    settle(run_worker)
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "segments"))
    assert rows == {"+393471200001": 1, "+393471200002": 2}
    sent.refresh_from_db()
    price = Decimal(sent.extra["price_per_segment"])
    assert sent.cost == price * 3
    billed = {n: text for order in skebby.state.orders.values() for n, text in order.texts.items()}
    assert billed["+393471200002"] == "Hi " + "B" * 200


def test_an_escaped_brace_reaches_the_phone_literally(sender_user, skebby, run_worker):
    customers(2)
    sms_to_everyone(sender_user, r"Codice: \{{ promo }}")
    settle(run_worker)
    assert skebby.calls("POST sms") == 1 and skebby.calls("POST paramsms") == 0  # one text for all
    [order] = skebby.state.orders.values()
    assert set(order.texts.values()) == {"Codice: {{ promo }}"}


def test_the_locmem_backend_keeps_each_numbers_text_in_one_order(sender_user, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], "sms": {
        **settings.SENDER["METHODS"]["sms"],
        "OPTIONS": {**settings.SENDER["METHODS"]["sms"]["OPTIONS"], "backend": "locmem"}}}}
    LocmemBackend.reset()
    people = customers(3)
    sms_to_everyone(sender_user, "Ciao {{ first_name|upper }}")
    run_worker()
    [order] = LocmemBackend.outbox
    assert dict(zip(order.recipients, order.texts, strict=True)) == {
        c.phone: f"Ciao {c.first_name.upper()}" for c in people}


def test_a_recipient_whose_text_grows_too_long_fails_alone(sender_user, skebby, run_worker, settings):
    settings.SENDER = {**sms_settings(settings, skebby.url, max_segments=1),
                       **{k: v for k, v in settings.SENDER.items() if k != "METHODS"}}
    Customer.objects.create(first_name="Al", phone="+393471200001")
    Customer.objects.create(first_name="B" * 100, last_name="B" * 100, phone="+393471200002")
    sent = sms_to_everyone(sender_user, "Hi {{ first_name }}{{ last_name }}")
    settle(run_worker)
    rows = {r.address: r for r in MessageRecipient.objects.filter(message_sent=sent)}
    assert rows["+393471200001"].status == MessageRecipient.Status.SENT
    assert rows["+393471200002"].status == MessageRecipient.Status.FAILED
    assert "too long" in rows["+393471200002"].reason
    assert skebby.state.summary()["messages"] == 1


def test_a_gateway_kept_as_data_gets_each_number_its_rendered_text(sender_user, twilio, gateways_method, run_worker):
    twilio_gateway(twilio.url)
    people = customers(3)
    sms_to_everyone(sender_user, "Ciao {{ first_name }}")
    settle(run_worker)
    assert twilio.received == {c.phone: 1 for c in people}
    assert sorted(twilio.texts) == sorted(f"Ciao {c.first_name}" for c in people)
