"""Choosing who pays on the compose page, in Chromium: search a customer by name, choose
them, see them in the preview, send; Enter in the search searches and never sends."""

import re

import pytest

from sender.models import Broadcast
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.factories import customers

pytestmark = pytest.mark.browser


def test_choose_a_billee_by_searching_preview_it_and_send_billed_to_them(page, sender_user):
    [carla] = customers(1, first_name="Carla")
    [marta] = customers(1, first_name="Marta", last_name="Rossi", email="marta@example.com", phone="+393471299999")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker input.row")
    page.check(f".picker input.row[value='{carla.pk}']")
    page.check("input[name=methods][value=storage]")
    page.fill("#id_body", "Your invoice is ready.")
    page.click("#preview-button")
    page.wait_for_function("() => !document.getElementById('send-button').disabled")

    assert page.input_value("#billee-model") == "recipients.customer"
    page.fill("#billee-q", "rossi")
    page.press("#billee-q", "Enter")  # searches; the form is not sent
    choice = f"#billee-choices input[value='recipients.customer:{marta.pk}']"
    page.wait_for_selector(choice)
    assert page.url.endswith("/send/") and not Broadcast.objects.exists()
    assert "Marta Rossi" in page.inner_text("#billee-choices") and "Carla" not in page.inner_text("#billee-choices")
    page.check(choice)
    assert page.is_disabled("#send-button")  # who pays changed: preview again
    page.fill("#billee-q", "nobody-has-this-name")
    page.wait_for_selector("#billee-status:text('Nothing matches this search.')")
    assert page.is_checked(choice)  # the choice stays through another search
    page.fill("#billee-q", "rossi")
    page.wait_for_function("() => document.getElementById('billee-status').textContent.trim() === ''")
    assert page.is_checked(choice) and page.locator("#billee-choices input[type=radio]").count() == 2
    assert_accessible(page, "compose with a billee chosen")

    page.click("#preview-button")
    page.wait_for_selector("#preview .billee:text('Billed to Marta Rossi')")
    shot(page, "12-compose-billee")
    page.wait_for_function("() => !document.getElementById('send-button').disabled")
    page.click("#send-button")
    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    assert "billed to Marta Rossi" in page.inner_text(".meta")
    assert Broadcast.objects.get().billee == marta
