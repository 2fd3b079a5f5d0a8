"""What staff see: the credit next to the preview, replies on the broadcast and recipient pages."""

import json
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.gateway import Received
from sender.channels.sms.incoming import store_incoming
from sender.channels.sms.models import GatewayState
from sender.pipeline.commit import commit
from tests.factories import customers

EVERYONE = json.dumps({"recipients.customer": {"filter": ""}})


def preview_page(client, body="Ciao"):
    return client.post(reverse("sender:preview"), {"selection": EVERYONE, "methods": ["sms"], "body": body,
                                                   "idempotency_key": "x"})


def test_the_preview_shows_exact_cost_and_the_credit_left(client, sender_user):
    customers(3)
    GatewayState.objects.create(method="sms", credits={"GP": 118}, money=Decimal("12.5"), credits_at=timezone.now())
    client.force_login(sender_user)
    page = preview_page(client, body="a" * 161).text
    assert '"Units each">2</td><td class="num" data-label="Cost">€\xa00.39</td>' in page  # 2 segments × €0.065 × 3
    assert "SMS: 118 GP SMS left" in page and "This send needs 6." in page
    assert "Not enough credit" not in page


def test_the_preview_warns_when_the_credit_is_short_and_offers_transliteration(client, sender_user):
    customers(3)
    GatewayState.objects.create(method="sms", credits={"GP": 2}, credits_at=timezone.now())
    client.force_login(sender_user)
    page = preview_page(client, body="Perché più ç").text
    assert "Not enough credit: top up the account before sending." in page
    assert "Replacing accented letters would keep the SMS in GSM-7." in page
    compose = client.get(reverse("sender:compose")).text
    assert 'name="transliterate"' in compose


def reply_world(sender_user):
    anna, other = customers(2)
    broadcast = commit(Selection.parse({"recipients.customer": {"ids": [anna.pk]}}), sender_user, ["sms"],
                       Draft(body="Confermi l'appuntamento?"), "ask")
    store_incoming("sms", [Received("1", anna.phone, "+393400000000", "Sì, confermo <b>", "20261123101500"),
                           Received("2", "+393330000000", "", "Chi siete?", "20261123101600")])
    return anna, other, broadcast


def test_replies_show_on_the_broadcast_page_with_who_sent_them(client, sender_user):
    anna, _other, broadcast = reply_world(sender_user)
    client.force_login(sender_user)
    page = client.get(broadcast.get_absolute_url()).text
    assert "1 reply</h2>" in page and "by SMS ·" in page
    assert "Sì, confermo &lt;b&gt;" in page and str(anna) in page
    assert "Chi siete?" not in page  # an unknown number replied to no broadcast


def test_replies_show_in_the_recipient_history(client, sender_user):
    anna, other, broadcast = reply_world(sender_user)
    client.force_login(sender_user)
    page = client.get(reverse("sender:recipient_history", args=["recipients.customer", anna.pk])).text
    assert "Sì, confermo" in page and f'href="{broadcast.get_absolute_url()}"' in page
    quiet = client.get(reverse("sender:recipient_history", args=["recipients.customer", other.pk])).text
    assert "1 reply</h2>" not in quiet


def test_someone_elses_broadcast_and_its_replies_stay_hidden(client, sender_user, perm_user):
    anna, _other, broadcast = reply_world(sender_user)
    client.force_login(perm_user)
    assert client.get(broadcast.get_absolute_url()).status_code == 404
    page = client.get(reverse("sender:recipient_history", args=["recipients.customer", anna.pk])).text
    assert "Sì, confermo" not in page
    assert Customer.objects.count() == 2


def test_the_preview_shows_the_sms_as_sent_and_mentions_ucs2_only_when_it_costs_more(client, sender_user):
    customers(1)
    client.force_login(sender_user)
    page = preview_page(client, body="È “aperto” l’ufficio").text
    assert "instead of" not in page  # UCS-2, still one segment: nothing to warn about
    assert "È &quot;aperto&quot; l&#x27;ufficio</pre>" in page  # the quotes as they will be sent
    longer = preview_page(client, body="È aperto " + "a" * 80).text
    assert "The SMS is sent as UCS-2 because of È: 2 segments instead of 1." in longer
