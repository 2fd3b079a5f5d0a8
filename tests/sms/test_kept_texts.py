"""SMS rows keep the text each number was sent (placeholders filled in, lookalikes replaced,
transliterated when asked): the very string the Skebby sandbox received."""

import uuid

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.sms.test_delivery import settle

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def received(skebby) -> dict[str, str]:
    return {number: text for order in skebby.state.orders.values() for number, text in order.texts.items()}


def kept(broadcast) -> dict[str, str]:
    return dict(MessageRecipient.objects.filter(message_sent__broadcast=broadcast).values_list("address", "text"))


def test_each_sms_row_keeps_the_text_its_number_received(sender_user, skebby, run_worker):
    people = customers(3)
    broadcast = commit(EVERYONE, sender_user, ["sms"], Draft(body="Ciao {{ first_name }}, a venerdì"), uuid.uuid4().hex)
    settle(run_worker)
    assert kept(broadcast) == {c.phone: f"Ciao {c.first_name}, a venerdì" for c in people}
    assert kept(broadcast) == received(skebby)


def test_a_transliterated_sms_keeps_the_transliterated_text_it_sent(sender_user, skebby, run_worker):
    Customer.objects.create(first_name="Niccolò", phone="+393471200001")
    Customer.objects.create(first_name="Zoë", phone="+393471200002")
    broadcast = commit(EVERYONE, sender_user, ["sms"], Draft(body="Perché {{ first_name }}? “Sì”", transliterate=True),
                       uuid.uuid4().hex)
    settle(run_worker)
    got = received(skebby)  # curly quotes straightened, ë (outside GSM-7) made e; é, ò, ì are GSM-7
    assert got == {"+393471200001": 'Perché Niccolò? "Sì"', "+393471200002": 'Perché Zoe? "Sì"'}
    assert kept(broadcast) == got
