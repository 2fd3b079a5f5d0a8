"""Send a test to myself: the draft reaches the staff member who wrote it, with their own
name in the placeholders, and is no broadcast: History and the cost report never show it."""

from decimal import Decimal

import pytest
from django.urls import reverse

from sender.models import Broadcast, MessageRecipient
from sender.web.reports import totals
from sender.web.views.reports import visible_sents
from tests.factories import customers
from tests.sms.conftest import skebby  # noqa: F401 (the Skebby sandbox fixture)


def post(client, **data):
    payload = {"methods": ["email"], "subject": "Hello {{ first_name }}", "body": "Dear {{ name }}, see you Monday.",
               "idempotency_key": "k-test", "selection": "", **data}
    return client.post(reverse("sender:send_test"), payload)


@pytest.fixture
def sally(sender_user):
    sender_user.first_name, sender_user.last_name = "Sally", "Rossi"
    sender_user.save()
    return sender_user


def test_email_test_reaches_me_with_my_name_and_stays_out_of_history_and_costs(client, sally, smtp_server):
    client.force_login(sally)
    response = post(client, methods=["email", "storage"])
    assert response.status_code == 200
    assert "Sent to sally@example.com." in response.text
    assert "Not sent: no recipient record is linked to your account, so you have no inbox." in response.text
    [mail] = smtp_server.messages
    assert mail["To"] == "sally@example.com" and mail["Subject"] == "Hello Sally"
    assert "Dear Sally Rossi, see you Monday." in mail.get_content()
    assert Broadcast.objects.get().origin == Broadcast.Origin.TEST
    history = client.get(reverse("sender:history"))
    assert "Hello Sally" not in history.text and "Hello {{" not in history.text
    assert not visible_sents(sally).exists()
    assert totals(visible_sents(sally))["cost"] in (None, Decimal(0))


def test_a_method_without_my_address_says_why(client, sally):
    client.force_login(sally)
    response = post(client, methods=["sms", "telegram"])
    assert "Not sent: no phone number is known for you." in response.text
    assert "Not sent: your account is not linked to a Telegram chat." in response.text
    assert not Broadcast.objects.exists()


def test_storage_test_lands_in_my_own_inbox(client, sally):
    [me] = customers(1, user=sally, first_name="Sal")
    client.force_login(sally)
    response = post(client, methods=["storage"], body="Inbox check for {{ first_name }}")
    assert "Sent to your inbox." in response.text
    row = MessageRecipient.objects.get()
    assert (row.object_id, row.status) == (str(me.pk), MessageRecipient.Status.DELIVERED)
    inbox = client.get(reverse("sender:inbox"))
    assert "Hello Sally" in inbox.text
    opened = client.get(reverse("sender:inbox_message", args=[row.message_sent_id]))
    assert "Inbox check for Sally" in opened.text


def test_form_errors_are_shown_and_nothing_is_sent(client, sally, smtp_server):
    client.force_login(sally)
    response = post(client, body="")
    assert "The test was not sent" in response.text and "Write the message first." in response.text
    assert smtp_server.messages == [] and not Broadcast.objects.exists()


def test_the_compose_page_offers_it(client, sally):
    client.force_login(sally)
    page = client.get(reverse("sender:compose"))
    assert reverse("sender:send_test") in page.text and "Send a test to myself" in page.text


def test_sms_test_reaches_the_phone_of_my_linked_record(client, sally, skebby):
    customers(1, user=sally, phone="+393471234567")
    client.force_login(sally)
    response = post(client, methods=["sms"], body="SMS for {{ first_name }}")
    assert "Sent to +393471234567." in response.text
    [order] = skebby.state.orders.values()
    assert order.texts == {"+393471234567": "SMS for Sally"}
    assert not visible_sents(sally).exists()
