"""Private attachments in the inbox: only for people who received a message carrying the
file (or staff who may see it), with the right headers; the web server may send the bytes;
thumbnails are made once."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from sender.attachments import store_attachment
from sender.inbox.files import thumbnail_name
from sender.models import attachment_storage
from tests.inbox.conftest import png_bytes, send_stored, upload_image
from tests.test_attachments import PDF
from tests.test_upload_memory import blank_png

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def with_files(sender_user, rita):
    """Rita received a stored message carrying a picture and a PDF."""
    _, record = rita
    image = upload_image(sender_user, "poster.png")
    pdf = store_attachment(SimpleUploadedFile("report.pdf", PDF), sender_user)
    sent = send_stored(sender_user, [record], subject="Files", attachments=[image, pdf]).sents.get()
    return sent, image, pdf


def file_url(sent, attachment, view: str = "sender:inbox_attachment") -> str:
    return reverse(view, args=[sent.pk, attachment.pk])


def test_images_are_inline_and_documents_downloads(client, rita, with_files):
    sent, image, pdf = with_files
    client.force_login(rita[0])

    picture = client.get(file_url(sent, image))
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/png"
    assert picture["Content-Disposition"] == 'inline; filename="poster.png"'
    assert body(picture) == attachment_storage().open(image.file.name).read()

    document = client.get(file_url(sent, pdf))
    assert document["Content-Type"] == "application/pdf"
    assert document["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert body(document) == PDF
    for response in (picture, document):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"].startswith("private")


def test_the_message_page_shows_the_image(client, rita, with_files):
    sent, image, pdf = with_files
    client.force_login(rita[0])
    page = client.get(reverse("sender:inbox_message", args=[sent.pk])).text
    assert f'<img class="inline-image" src="{file_url(sent, image)}"' in page
    assert f'href="{file_url(sent, pdf)}"' in page
    assert "/var/" not in page and attachment_storage().location not in page  # no public path to the file


def test_another_recipients_attachment_is_404(client, olga, with_files):
    sent, image, pdf = with_files
    client.force_login(olga[0])
    for url in (file_url(sent, image), file_url(sent, pdf), file_url(sent, image, "sender:inbox_thumbnail")):
        response = client.get(url)
        assert response.status_code == 404
        assert body(response) != PDF


def test_a_file_asked_for_through_a_message_that_does_not_carry_it_is_404(client, sender_user, rita, olga, with_files):
    _, image, _ = with_files
    olga_user, olga_record = olga
    other = send_stored(sender_user, [olga_record], subject="Nothing attached").sents.get()
    client.force_login(olga_user)
    assert client.get(file_url(other, image)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, with_files):
    sent, image, _ = with_files
    response = client.get(file_url(sent, image))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_who_may_see_the_broadcast_can_open_it_others_cannot(client, sender_user, nosend_user, with_files):
    sent, image, _ = with_files
    client.force_login(sender_user)
    assert client.get(file_url(sent, image)).status_code == 200
    client.force_login(nosend_user)  # staff, but not theirs and no view_all_messages
    assert client.get(file_url(sent, image)).status_code == 404


def test_x_accel_redirect_hands_the_file_to_nginx(client, settings, rita, with_files):
    sent, image, _ = with_files
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_SENDFILE": {"HEADER": "X-Accel-Redirect",
                                                                  "PREFIX": "/_protected/"}}
    client.force_login(rita[0])

    response = client.get(file_url(sent, image))

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_protected/{image.file.name}"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="poster.png"'
    assert response.content == b""  # the web server sends the bytes


def test_x_sendfile_gives_apache_the_file_path(client, settings, rita, olga, with_files):
    sent, _, pdf = with_files
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_SENDFILE": {"HEADER": "X-Sendfile"}}
    client.force_login(rita[0])

    response = client.get(file_url(sent, pdf))

    assert response["X-Sendfile"] == attachment_storage().path(pdf.file.name)
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    client.force_login(olga[0])
    denied = client.get(file_url(sent, pdf))
    assert denied.status_code == 404 and "X-Sendfile" not in denied


def test_thumbnails_are_made_once_and_kept(client, rita, with_files):
    sent, image, pdf = with_files
    client.force_login(rita[0])
    storage = attachment_storage()

    first = client.get(file_url(sent, image, "sender:inbox_thumbnail"))
    assert first.status_code == 200 and first["Content-Type"] == "image/jpeg"
    assert storage.exists(thumbnail_name(image))
    # Remove the original: a second request that made the thumbnail again would fail.
    storage.delete(image.file.name)
    second = client.get(file_url(sent, image, "sender:inbox_thumbnail"))

    assert body(second) == body(first)
    assert client.get(file_url(sent, pdf, "sender:inbox_thumbnail")).status_code == 404  # no thumbnail of a PDF
    assert len(storage.listdir("thumbnails")[1]) == 1


def test_the_inbox_list_shows_thumbnails(client, rita, with_files):
    sent, image, _ = with_files
    client.force_login(rita[0])
    page = client.get(reverse("sender:inbox")).text
    assert f'src="{file_url(sent, image, "sender:inbox_thumbnail")}"' in page


def test_a_thumbnail_is_at_most_160_pixels(client, sender_user, rita):
    _, record = rita
    big = store_attachment(SimpleUploadedFile("big.png", png_bytes((1200, 900))), sender_user)
    sent = send_stored(sender_user, [record], attachments=[big]).sents.get()
    client.force_login(rita[0])
    thumb = Image.open(io.BytesIO(body(client.get(file_url(sent, big, "sender:inbox_thumbnail")))))
    assert max(thumb.size) == 160


def test_a_wrong_sendfile_header_is_reported_by_the_system_checks(settings):
    from django.core.checks import run_checks

    settings.SENDER = {**settings.SENDER, "ATTACHMENT_SENDFILE": {"HEADER": "X-Whatever"}}
    assert "sender.E060" in [m.id for m in run_checks()]
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_SENDFILE": {"HEADER": "X-Accel-Redirect"}}
    assert "sender.E060" not in [m.id for m in run_checks()]


@pytest.mark.parametrize("damage", ["truncated", "huge"])
def test_a_stored_image_that_cannot_be_decoded_safely_has_no_thumbnail(client, rita, with_files, damage):
    """Files stored before the upload checks tightened, or damaged on disk: 404, never a 500
    nor half a gigabyte of pixels."""
    sent, image, _ = with_files
    storage = attachment_storage()
    original = storage.open(image.file.name).read()
    replacement = original[:-40] if damage == "truncated" else blank_png(7000, 7000)
    with open(storage.path(image.file.name), "wb") as f:
        f.write(replacement)
    client.force_login(rita[0])

    assert client.get(file_url(sent, image, "sender:inbox_thumbnail")).status_code == 404
    assert not storage.exists(thumbnail_name(image))
