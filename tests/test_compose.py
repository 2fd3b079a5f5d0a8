"""The dashboard's server side: picker, counter, preview, send, uploads, cancel."""

import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageSent
from tests.factories import customers, subject

EVERYONE = json.dumps({"recipients.customer": {"filter": ""}})


@pytest.fixture
def staff(client, sender_user):
    client.force_login(sender_user)
    return client


def post_send(client, **data):
    payload = {"selection": EVERYONE, "methods": ["storage"], "body": "Hello", "idempotency_key": "form-key"}
    payload.update(data)
    return client.post(reverse("sender:compose"), payload)


def test_the_compose_page_shows_a_tab_per_recipient_model_and_the_configured_methods(staff):
    page = staff.get(reverse("sender:compose"))
    assert page.status_code == 200
    for label in ("recipients.customer", "recipients.externalsubject"):
        assert f'data-label="{label}"' in page.text
    assert 'value="email"' in page.text and 'value="storage"' in page.text
    assert "Up to 10.0\xa0MB each" in page.text


def test_users_without_the_permission_get_a_polite_refusal(client, nosend_user):
    client.force_login(nosend_user)
    for response in (client.get(reverse("sender:compose")), post_send(client),
                     client.post(reverse("sender:preview"), {})):
        assert response.status_code == 403
        assert "You cannot send messages" in response.text
    assert not Broadcast.objects.exists()


def test_the_picker_lists_only_visible_rows(staff, sender_user, perm_user):
    customers(2, owner=sender_user, city="Roma")
    customers(1, owner=perm_user, city="Secret")
    page = staff.get(reverse("sender:picker", args=["recipients.customer"]))
    assert 'data-total="2"' in page.text
    assert "Secret" not in page.text


def test_the_picker_filters_sorts_and_keeps_the_filter_for_select_all(staff):
    customers(3, city="Roma")
    customers(2, city="Milano")
    page = staff.get(reverse("sender:picker", args=["recipients.customer"]), {"city": "Roma", "sort": "-last_name"})
    assert 'data-total="3"' in page.text
    assert 'data-filter="city=Roma"' in page.text
    names = [line for line in page.text.split("<td>") if line.startswith("Last")]
    assert names == sorted(names, reverse=True)


def test_the_picker_query_count_does_not_grow_with_rows(staff):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(reverse("sender:picker", args=["recipients.externalsubject"])).status_code == 200
        return len(captured)

    subject("Only")
    few = queries()
    for i in range(60):
        subject(f"S{i}", typology_id=None)
    assert queries() == few


def test_an_unknown_model_tab_is_404(staff):
    assert staff.get(reverse("sender:picker", args=["auth.user"])).status_code == 404


def test_the_counter_names_the_characters_that_force_ucs2(staff):
    page = staff.post(reverse("sender:counter"), {"body": "Ciao ç 😀"})
    assert "UCS-2" in page.text and "<code>ç</code>" in page.text and "<code>😀</code>" in page.text
    assert "GSM-7" in staff.post(reverse("sender:counter"), {"body": "Perché no"}).text


def test_preview_shows_counts_and_reasons_without_writing(staff):
    cs = customers(3)
    cs[2].email = "nope"
    cs[2].save()
    page = staff.post(reverse("sender:preview"), {"selection": EVERYONE, "methods": ["email"], "body": "Hi",
                                                   "subject": "S", "idempotency_key": "x"})
    assert 'data-ok="1"' in page.text
    assert "<b>2</b>" in page.text and "not an email address" in page.text
    assert not Broadcast.objects.exists() and not MessageRecipient.objects.exists()


def test_preview_names_the_people_who_will_not_receive_it(staff):
    """Not just "invalid nope": whose address it is, linked to everything sent to them."""
    [wrong] = customers(1, first_name="Ada", last_name="Wrongmail", email="nope")
    customers(2)
    page = staff.post(reverse("sender:preview"), {"selection": EVERYONE, "methods": ["email"], "body": "Hi",
                                                   "subject": "S", "idempotency_key": "x"})
    history = reverse("sender:recipient_history", args=["recipients.customer", wrong.pk])
    assert f'<a href="{history}">{wrong.get_representation()}</a>' in page.text
    assert "Email: why 1 will not receive it" in page.text


def test_the_counter_counts_what_the_preview_and_the_send_will_count(staff):
    """A browser posts each line break as CR LF, and the form strips the ends: the counter
    counts one character per break and no trailing blank, like the message that is stored."""
    customers(1)
    body = "Line one\r\nLine two\r\n\r\n"
    counter = staff.post(reverse("sender:counter"), {"body": body}).text
    assert "17 characters" in counter
    post_send(staff, body=body)
    assert Broadcast.objects.get().body == "Line one\nLine two"  # 17 characters


def test_a_time_in_the_past_is_refused_by_the_preview_before_send(staff):
    customers(1)
    page = staff.post(reverse("sender:preview"), {"selection": EVERYONE, "methods": ["storage"], "body": "Hi",
                                                   "idempotency_key": "x", "send_at": "2020-01-01T10:00"})
    assert 'data-ok=""' in page.text and "The time to send must be in the future." in page.text


@pytest.mark.parametrize("data, message", [
    ({"selection": ""}, "No recipients selected"),
    ({"selection": "{not json"}, "could not be read"),
    ({"methods": []}, "Choose at least one send method"),
    ({"body": ""}, "Write the message first"),
    ({"methods": ["email"], "subject": ""}, "Email needs a subject"),
])
def test_bad_input_is_explained_in_the_page_and_nothing_is_sent(staff, data, message):
    customers(1)
    response = post_send(staff, **data)
    assert response.status_code == 400
    assert message in response.text
    assert not Broadcast.objects.exists()


def test_sending_redirects_to_the_broadcast_and_a_double_click_sends_once(staff):
    customers(2)
    first = post_send(staff)
    second = post_send(staff)
    broadcast = Broadcast.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == broadcast.get_absolute_url()
    assert MessageRecipient.objects.count() == 2


def test_someone_elses_attachment_cannot_ride_along(staff, perm_user, client):
    customers(1)
    foreign = MessageAttachment.objects.create(name="x.pdf", content_type="application/pdf", size=1, sha256="0",
                                               uploaded_by=perm_user, file="x.pdf")
    response = post_send(staff, attachments=[foreign.pk])
    assert response.status_code == 400
    assert not Broadcast.objects.exists()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "orange").save(out, "PNG")
    return out.getvalue()


def test_uploads_are_checked_and_images_get_a_thumbnail(staff):
    good = io.BytesIO(png_bytes())
    good.name = "photo.png"
    response = staff.post(reverse("sender:upload"), {"file": good})
    assert response.status_code == 201
    data = response.json()
    assert data["name"] == "photo.png" and data["thumbnail"]
    thumb = staff.get(data["thumbnail"])
    assert thumb["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size) == 160
    bad = io.BytesIO(b"%PDF-1.4 not really a png")
    bad.name = "fake.png"
    refused = staff.post(reverse("sender:upload"), {"file": bad})
    assert refused.status_code == 400 and refused.json()["error"]
    assert MessageAttachment.objects.count() == 1


def test_cancel_stops_what_is_pending(staff, sender_user):
    customers(3)
    post_send(staff)
    broadcast = Broadcast.objects.get()
    response = staff.post(reverse("sender:cancel", args=[broadcast.pk]))
    assert response.status_code == 302
    sent = broadcast.sents.get()
    assert (sent.status, sent.pending_count, sent.failed_count) == (MessageSent.Status.CANCELLED, 0, 3)
    assert set(MessageRecipient.objects.values_list("reason", flat=True)) == {"Cancelled by sally before it was sent."}


def test_cancel_of_someone_elses_broadcast_is_404(client, staff, perm_user):
    customers(1)
    post_send(staff)
    client.force_login(perm_user)
    assert client.post(reverse("sender:cancel", args=[Broadcast.objects.get().pk])).status_code == 404
    assert Broadcast.objects.get().sents.get().status == MessageSent.Status.QUEUED


def test_with_no_method_configured_the_page_says_so(staff, settings):
    settings.SENDER = {**settings.SENDER, "METHODS": {}}
    page = staff.get(reverse("sender:compose"))
    assert page.status_code == 200
    assert "No send method is configured" in page.text
    assert post_send(staff).status_code == 400
    assert not Broadcast.objects.exists()


def test_the_language_switch_turns_the_dashboard_italian(staff):
    staff.post(reverse("set_language"), {"language": "it", "next": reverse("sender:compose")})
    page = staff.get(reverse("sender:compose"))
    assert "Anteprima" in page.text and 'lang="it"' in page.text
    customers(1, email="")
    preview = staff.post(reverse("sender:preview"), {
        "selection": EVERYONE, "methods": ["email"], "body": "Ciao", "subject": "S", "idempotency_key": "x",
    })
    assert "Nessun indirizzo per Email." in preview.text
