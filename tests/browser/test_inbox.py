"""A stored message from staff to a recipient, in a real browser: staff send it with an image;
the recipient logs in, sees the unread badge, opens the message and sees the image; the
staff's broadcast page then shows it read."""

import re

import pytest
from PIL import Image

from sender.models import MessageSent, MessageUserRead
from tests.browser.conftest import log_in, shot
from tests.factories import customers
from tests.inbox.conftest import person

pytestmark = pytest.mark.browser


def test_a_stored_message_with_an_image_is_read_and_staff_see_it(page, sender_user, tmp_path):
    rita, record = person("rita", "rita@example.com")
    record.city = "Torino"
    record.save(update_fields=["city"])
    customers(3, city="Torino")
    photo = tmp_path / "map.png"
    Image.new("RGB", (480, 320), "orange").save(photo, "PNG")

    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer']")
    page.fill(".filters input[name=city]", "Torino")
    page.wait_for_selector(".picker[data-total='4']")
    page.click(".select-all")
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '4'")
    page.check("input[name=methods][value=email]")  # by email too: the subject field shows with it
    page.check("input[name=methods][value=storage]")
    page.fill("#id_subject", "Where to find us")
    page.fill("#id_body", "Our new office is on the map below.")
    page.set_input_files("#file-input", str(photo))
    page.wait_for_selector(".attachment-list img.thumb")
    page.click("#preview-button")
    page.wait_for_function("() => !document.getElementById('send-button').disabled")
    page.click("#send-button")
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    broadcast_url = page.url
    page.wait_for_function("() => document.querySelectorAll('.status.done').length === 2", timeout=30_000)

    page.context.clear_cookies()
    log_in(page, "rita", "pw-rita-123")
    page.wait_for_url(re.compile(r"/inbox/$"))
    page.wait_for_selector("#unread-badge:not([hidden])")
    assert page.inner_text("#unread-badge") == "1"
    assert page.is_visible("tr.unread >> text=Where to find us")
    shot(page, "inbox-1-list")

    page.click("text=Where to find us")
    image = page.wait_for_selector("img.inline-image")
    page.wait_for_function("() => document.querySelector('img.inline-image').naturalWidth === 480")
    assert image.get_attribute("alt") == "map.png"
    assert "Our new office is on the map below." in page.inner_text("main")
    page.wait_for_selector("#unread-badge[hidden]", state="attached")  # read: the header's badge is gone
    shot(page, "inbox-2-message")

    sent = MessageSent.objects.get(method="storage")
    assert MessageUserRead.objects.filter(message_sent=sent, user=rita).count() == 1

    page.context.clear_cookies()
    log_in(page, "sally", "pw-sally-123")
    page.goto(broadcast_url)
    assert "1 of 4 read (25 %)" in page.inner_text("#reads")
    assert "rita" in page.inner_text("#reads table")
    page.locator("#reads").scroll_into_view_if_needed()
    shot(page, "inbox-3-reads")
