"""A staff member's whole job, in a real browser: filter, select all matching, compose with an
attachment, preview, send, watch the progress reach 100 %, and the email arrives."""

import io
import re

import pytest
from PIL import Image

from sender.models import Broadcast, MessageSent
from tests.browser.conftest import log_in, shot
from tests.factories import customers

pytestmark = pytest.mark.browser


def test_select_all_matching_compose_preview_send_and_watch(page, sender_user, smtp_server, tmp_path):
    roma = customers(12, city="Roma")
    customers(7, city="Milano")
    photo = tmp_path / "poster.jpg"
    image = Image.new("RGB", (640, 480), "teal")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera make: must not travel
    image.save(photo, "JPEG", exif=exif)

    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer']")
    shot(page, "1-picker")
    page.fill(".filters input[name=city]", "Roma")
    page.wait_for_selector(".picker[data-total='12']")
    page.click(".select-all")
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '12'")
    assert page.is_visible(".all-selected")

    page.check("input[name=methods][value=email]")
    page.fill("#id_subject", "Chiusura lunedì")
    page.fill("#id_body", "L'ufficio è chiuso lunedì. Ci scusiamo 🙏")
    page.wait_for_selector("#counter .encoding:text('UCS-2')")
    page.set_input_files("#file-input", str(photo))
    page.wait_for_selector(".attachment-list img.thumb")
    shot(page, "2-compose")

    assert page.is_disabled("#send-button")
    page.click("#preview-button")
    page.wait_for_selector("#preview [data-ok='1']")
    assert "12" in page.inner_text("#preview tbody")
    shot(page, "3-preview")
    page.fill("#id_subject", "Chiusura lunedì!")  # the preview is no longer current
    assert page.is_disabled("#send-button")
    page.click("#preview-button")
    page.wait_for_function("() => !document.getElementById('send-button').disabled")
    page.click("#send-button")

    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    page.wait_for_function(
        "() => { const p = document.querySelector('progress'); return p && p.max > 0 && p.value === p.max; }",
        timeout=30_000,
    )
    page.wait_for_selector(".status.done")
    shot(page, "4-progress")

    sent = MessageSent.objects.get()
    assert (sent.status, sent.sent_count) == ("done", 12)
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in roma)
    message = smtp_server.messages[0]
    assert message["Subject"] == "Chiusura lunedì!"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "poster.jpg"
    assert 0x010F not in Image.open(io.BytesIO(attachment.get_content())).getexif()
    assert Broadcast.objects.get().selection == {"recipients.customer": {"filter": "city=Roma"}}


def test_a_user_without_permission_cannot_send(page, nosend_user):
    log_in(page, "nina", "pw-nina-123")
    page.goto("/send/")
    assert "You cannot send messages" in page.inner_text("main")
    shot(page, "5-not-allowed")


def test_rows_outside_visibility_never_appear(page, sender_user, perm_user):
    customers(3, owner=sender_user, city="Mine")
    customers(2, owner=perm_user, city="Theirs")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-total='3']")
    assert "Theirs" not in page.inner_text("#picker")


def test_the_compose_page_fits_a_phone(page, sender_user):
    customers(30, city="Roma")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-total='30']")
    shot(page, "6-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
