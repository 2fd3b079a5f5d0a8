"""Staff see who read a stored message and when: on the broadcast page with the read share,
and on the recipient's history with their account and an invite button."""

import pytest
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone

from sender.models import MessageUserRead
from tests.factories import customers
from tests.inbox.conftest import send_stored

pytestmark = pytest.mark.django_db


def test_the_broadcast_page_shows_the_read_share_and_who_read(client, sender_user, rita, olga):
    rita_user, rita_record = rita
    _, olga_record = olga
    broadcast = send_stored(sender_user, [rita_record, olga_record, *customers(2)], subject="Survey")
    client.force_login(rita_user)
    client.get(reverse("sender:inbox_message", args=[broadcast.sents.get().pk]))
    read = MessageUserRead.objects.get()

    client.force_login(sender_user)
    page = client.get(broadcast.get_absolute_url()).text

    assert 'data-reads="1" data-delivered="4"' in page
    assert "1 of 4 read (25 %)" in page
    when = date_filter(timezone.localtime(read.read_at), "SHORT_DATETIME_FORMAT")
    assert f"<tr><td>rita</td><td>{when}</td></tr>" in page


def test_a_broadcast_without_storage_shows_no_read_section(client, sender_user, rita):
    broadcast = send_stored(sender_user, [rita[1]], methods=["email"], run=False)
    client.force_login(sender_user)
    assert 'id="reads"' not in client.get(broadcast.get_absolute_url()).text


def test_the_recipient_history_shows_the_account_and_offers_an_invite(client, sender_user, rita):
    _, linked = rita
    unlinked = customers(1)[0]
    client.force_login(sender_user)

    page = client.get(reverse("sender:recipient_history", args=["recipients.customer", linked.pk])).text
    assert "Reads stored messages online as <b>rita</b>" in page
    assert "Send the set-password link again" in page

    page = client.get(reverse("sender:recipient_history", args=["recipients.customer", unlinked.pk])).text
    assert "No login account" in page
    assert reverse("sender:inbox_invite", args=["recipients.customer", unlinked.pk]) in page


def test_staff_who_may_not_send_see_the_account_but_no_invite_button(client, nosend_user, rita):
    client.force_login(nosend_user)
    page = client.get(reverse("sender:recipient_history", args=["recipients.customer", rita[1].pk])).text
    assert "Reads stored messages online as" in page
    assert "Send the set-password link again" not in page
