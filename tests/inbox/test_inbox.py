"""The inbox pages: only your own stored messages, newest first, reads recorded once,
filters, pages, mark all read and the JSON unread count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageTypology, MessageUserRead
from sender.pipeline import deliver
from sender.pipeline.commit import commit
from tests.factories import customers, subject
from tests.inbox.conftest import send_stored

pytestmark = pytest.mark.django_db


def listed(response) -> list[str]:
    return [str(m.broadcast) for m in response.context["entries"]]


def test_a_recipient_sees_only_their_messages_newest_first(client, sender_user, rita, olga):
    rita_user, rita_record = rita
    _, olga_record = olga
    send_stored(sender_user, [rita_record], subject="First for Rita")
    send_stored(sender_user, [olga_record], subject="Only for Olga")
    send_stored(sender_user, [rita_record, olga_record, *customers(2)], subject="For everyone")
    send_stored(sender_user, [rita_record], subject="Email only", methods=["email"], run=False)

    client.force_login(rita_user)
    response = client.get(reverse("sender:inbox"))

    assert response.status_code == 200
    assert listed(response) == ["For everyone", "First for Rita"]
    assert b"Only for Olga" not in response.content


def test_a_message_not_yet_delivered_is_not_in_the_inbox(client, sender_user, rita):
    user, record = rita
    send_stored(sender_user, [record], subject="Still pending", run=False)
    client.force_login(user)
    assert listed(client.get(reverse("sender:inbox"))) == []


def test_anonymous_visitors_are_sent_to_log_in(client, sender_user, rita):
    _, record = rita
    sent = send_stored(sender_user, [record]).sents.get()
    for url in (reverse("sender:inbox"), reverse("sender:inbox_message", args=[sent.pk]),
                reverse("sender:inbox_unread")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_another_recipients_message_is_404(client, sender_user, rita, olga):
    _, rita_record = rita
    olga_user, _ = olga
    sent = send_stored(sender_user, [rita_record], subject="Private to Rita", body="Rita's secret").sents.get()
    client.force_login(olga_user)

    response = client.get(reverse("sender:inbox_message", args=[sent.pk]))

    assert response.status_code == 404
    assert b"Rita's secret" not in response.content
    assert not MessageUserRead.objects.exists()


def test_opening_a_message_records_one_read_however_often(client, sender_user, rita):
    user, record = rita
    sent = send_stored(sender_user, [record], subject="Meeting", body="Tuesday at ten.").sents.get()
    client.force_login(user)

    for _ in range(3):
        response = client.get(reverse("sender:inbox_message", args=[sent.pk]))
        assert response.status_code == 200
        assert "Tuesday at ten." in response.text

    assert MessageUserRead.objects.filter(message_sent=sent, user=user).count() == 1
    listing = client.get(reverse("sender:inbox"))
    assert [m.is_read for m in listing.context["entries"]] == [True]


def test_a_person_with_two_records_sees_a_message_once(client, sender_user, rita):
    user, record = rita
    acme = subject("Acme", user=user)  # Rita also reads for her company
    broadcast = commit(Selection.parse({"recipients.customer": {"ids": [record.pk]},
                                        "recipients.externalsubject": {"ids": [acme.pk]}}),
                       sender_user, ["storage"], Draft(body="Both of you", subject="Twice"), "two-records")
    sent = broadcast.sents.get()
    deliver.deliver_batch(sent.pk, 0)
    client.force_login(user)

    assert listed(client.get(reverse("sender:inbox"))) == ["Twice"]
    assert client.get(reverse("sender:inbox_unread")).json() == {"unread": 1}


def test_typology_filter_and_text_search(client, sender_user, rita):
    user, record = rita
    invoice = MessageTypology.objects.create(name="Invoice")
    notice = MessageTypology.objects.create(name="Notice")
    send_stored(sender_user, [record], subject="March invoice", body="Amount due: 12 €", typology=invoice)
    send_stored(sender_user, [record], subject="Office closed", body="Closed on Monday", typology=notice)
    send_stored(sender_user, [record], subject="April invoice", body="Amount due: 30 €", typology=invoice)
    client.force_login(user)
    url = reverse("sender:inbox")

    assert listed(client.get(url, {"typology": invoice.pk})) == ["April invoice", "March invoice"]
    assert listed(client.get(url, {"q": "monday"})) == ["Office closed"]
    assert listed(client.get(url, {"q": "amount 30"})) == ["April invoice"]
    assert listed(client.get(url, {"typology": notice.pk, "q": "invoice"})) == []
    response = client.get(url, {"typology": "not-a-number"})
    assert response.status_code == 200  # a bad filter shows an empty list and the form's error, never a 500


def test_pages_of_twenty_keep_the_filter(client, sender_user, rita):
    user, record = rita
    for i in range(23):
        send_stored(sender_user, [record], subject=f"Message {i:02d}")
    client.force_login(user)

    first = client.get(reverse("sender:inbox"), {"q": "message"})
    second = client.get(reverse("sender:inbox"), {"q": "message", "page": 2})

    assert len(listed(first)) == 20 and listed(first)[0] == "Message 22"
    assert listed(second) == ["Message 02", "Message 01", "Message 00"]
    assert 'href="?q=message&amp;page=2"' in first.text


def test_the_first_page_costs_the_same_queries_for_3_or_30_messages(client, sender_user, rita):
    user, record = rita
    client.force_login(user)

    def first_page_queries() -> int:
        client.get(reverse("sender:inbox"))  # warm the session and content-type caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("sender:inbox"))
        assert response.status_code == 200
        return len(queries)

    for i in range(3):
        send_stored(sender_user, [record], subject=f"Few {i}")
    few = first_page_queries()
    for i in range(27):
        send_stored(sender_user, [record], subject=f"Many {i}")
    assert first_page_queries() == few
    assert few <= 12


def test_json_unread_count_and_mark_all_read(client, sender_user, rita, olga):
    user, record = rita
    _, olga_record = olga
    first = send_stored(sender_user, [record], subject="One").sents.get()
    for title in ("Two", "Three"):
        send_stored(sender_user, [record, olga_record], subject=title)
    client.force_login(user)
    client.get(reverse("sender:inbox_message", args=[first.pk]))

    response = client.get(reverse("sender:inbox_unread"))
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"unread": 2}

    assert client.get(reverse("sender:inbox_read_all")).status_code == 405  # a change needs POST
    response = client.post(reverse("sender:inbox_read_all"), follow=True)
    assert "2 messages marked read." in response.text
    assert client.get(reverse("sender:inbox_unread")).json() == {"unread": 0}
    assert MessageUserRead.objects.filter(user=user).count() == 3
    assert not MessageUserRead.objects.exclude(user=user).exists()  # Olga's copies stay unread for her


def test_someone_without_a_recipient_record_gets_an_empty_inbox(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("sender:inbox"))
    assert response.status_code == 200
    assert "No recipient record is linked to your account" in response.text
    assert client.get(reverse("sender:inbox_unread")).json() == {"unread": 0}


def test_the_header_shows_the_unread_badge_to_recipients_only(client, sender_user, rita):
    user, record = rita
    send_stored(sender_user, [record])
    client.force_login(user)
    page = client.get(reverse("sender:inbox")).text
    assert 'id="unread-badge"' in page and ">1</span>" in page

    client.force_login(sender_user)
    assert 'id="unread-badge"' not in client.get(reverse("sender:home")).text


def test_login_lands_recipients_in_their_inbox_and_staff_on_the_dashboard(client, sender_user, rita):
    client.post(reverse("login"), {"username": "rita", "password": "pw-rita-123"})
    assert client.get(reverse("sender:start"))["Location"] == reverse("sender:inbox")
    client.logout()
    client.post(reverse("login"), {"username": "sally", "password": "pw-sally-123"})
    assert client.get(reverse("sender:start"))["Location"] == reverse("sender:home")
