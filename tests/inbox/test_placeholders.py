"""Stored messages with placeholders: the inbox shows each reader the text rendered for them."""

from django.urls import reverse

from tests.inbox.conftest import send_stored


def test_the_inbox_shows_each_reader_their_own_text(client, sender_user, rita, olga):
    (rita_user, rita_record), (olga_user, olga_record) = rita, olga
    sent = send_stored(sender_user, [rita_record, olga_record], body=r"Dear {{ first_name }}, use \{{ code }}."
                       ).sents.get()
    client.force_login(rita_user)
    page = client.get(reverse("sender:inbox_message", args=[sent.pk])).text
    assert "Dear Rita, use {{ code }}." in page and "Olga" not in page
    client.force_login(olga_user)
    page = client.get(reverse("sender:inbox_message", args=[sent.pk])).text
    assert "Dear Olga, use {{ code }}." in page and "Rita" not in page
