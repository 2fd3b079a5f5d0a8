"""Incoming SMS handlers (SENDER["SMS_HANDLERS"]): a reply pushed by a gateway reaches the
first handler that recognises it; `respond` answers through the ledger and the same gateway;
STOP is one handler."""

import pytest

from sender.audience.models import OptOut
from sender.channels.sms.models import SmsDispatch
from sender.models import Broadcast, IncomingMessage, MessageRecipient
from sender.pipeline.answers import Reply
from tests.factories import customers
from tests.sms.test_delivery import send, settle
from tests.sms.test_gateways import twilio_gateway, vonage_gateway

HOURS = "We are open 9-18."


def opening_hours(reply: Reply) -> None:
    reply.respond(HOURS)


@pytest.fixture
def handlers(settings, gateways_method):
    settings.SENDER = {**settings.SENDER, "SMS_HANDLERS": [
        {"match": "sender.audience.optout.is_stop_word", "handler": "sender.pipeline.answers.opt_out"},
        {"pattern": r"^\s*hours\b", "handler": "tests.sms.test_answers.opening_hours"},
    ]}


def push(client, gateway: str, sid: str, number: str, text: str) -> None:
    response = client.post(f"/hooks/sms/{gateway}/incoming/?key=push-key", {"MessageSid": sid, "From": number,
                                                                           "To": "+15005550006", "Body": text})
    assert response.status_code == 200


def test_a_handler_answers_through_the_gateway_the_reply_came_by(sender_user, twilio, vonage, handlers,
                                                                 run_worker, client):
    vonage_gateway(vonage.url, priority=1)
    twilio_gateway(twilio.url, priority=2)
    vonage.quota = True  # the broadcast goes out through Twilio
    person, other = customers(2)
    send(sender_user, body="Ciao")
    settle(run_worker)
    vonage.quota = False
    push(client, "twilio", "SMin1", person.phone, "Hours today?")
    push(client, "twilio", "SMin1", person.phone, "Hours today?")  # pushed twice: answered once
    push(client, "twilio", "SMin2", other.phone, "Thanks")  # no handler recognises it
    settle(run_worker)
    assert twilio.texts.count(HOURS) == 1 and twilio.received[person.phone] == 2 and vonage.received == {}
    answer = Broadcast.objects.get(body=HOURS)
    assert answer.sender == sender_user
    row = MessageRecipient.objects.get(message_sent__broadcast=answer)
    assert (row.address, row.status) == (person.phone, MessageRecipient.Status.SENT)
    assert SmsDispatch.objects.get(recipient=row).gateway.name == "twilio"


def test_stop_pushed_by_a_gateway_opts_the_number_out(sender_user, twilio, handlers, run_worker, client):
    twilio_gateway(twilio.url)
    person = customers(1)[0]
    send(sender_user, body="Ciao")
    settle(run_worker)
    push(client, "twilio", "SMstop", person.phone, "STOP")
    assert OptOut.objects.filter(method="sms", address=person.phone).exists()
    assert Broadcast.objects.count() == 1  # STOP is not answered


def test_staff_answer_a_reply_from_the_broadcast_page(sender_user, twilio, handlers, run_worker, client):
    twilio_gateway(twilio.url)
    person = customers(1)[0]
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    push(client, "twilio", "SMq", person.phone, "Can I come tomorrow?")
    client.force_login(sender_user)
    page = client.get(f"/broadcasts/{sent.broadcast_id}/").content.decode()
    reply = IncomingMessage.objects.get()
    assert f'action="/replies/{reply.pk}/answer/"' in page
    done = client.post(f"/replies/{reply.pk}/answer/", {"body": "Yes, from 9.", "idempotency_key": "a1"}, follow=True)
    assert "Your answer is on its way." in done.content.decode()
    settle(run_worker)
    assert twilio.texts[-1] == "Yes, from 9." and twilio.received[person.phone] == 2
    assert Broadcast.objects.get(body="Yes, from 9.").sender == sender_user
