"""The compose page's extras, in Chromium: a saved audience saved and loaded back (its filter
re-counted), a test sent to myself, and a formatted (Markdown) email previewed as HTML; each
state passes axe-core and fits the screen."""

import pytest

from sender.audience.models import Audience, Customer
from sender.models import Broadcast
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.browser.test_layout import SIZES, assert_fits
from tests.factories import customers

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", SIZES)
def test_save_an_audience_and_load_it_back_with_todays_matches(page, sender_user, size):
    page.set_viewport_size(dict(zip(("width", "height"), size, strict=True)))
    customers(12, city="Roma")
    customers(7, city="Milano", email="m@example.com")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer']")
    page.fill(".filters input[name=city]", "Roma")
    page.wait_for_selector(".picker[data-total='12']")
    page.click(".select-all")
    page.fill("#audience-name", "Roma customers")
    page.click("#audience-save")
    page.wait_for_selector("#audience-status:text('Saved as “Roma customers”.')")
    assert Audience.objects.get().selection == {"recipients.customer": {"filter": "city=Roma"}}
    assert_accessible(page, "compose with a saved audience")
    assert_fits(page, "compose with the audience box")

    Customer.objects.create(first_name="Late", last_name="Comer", email="late@example.com", city="Roma")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-total='20']")
    page.select_option("#audience-select", label="Roma customers (sally)")
    page.click("#audience-load")
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '13'")
    assert "Customers: everyone matching City “Roma” (13)" in page.inner_text("#selection-summary")
    page.wait_for_selector(".picker[data-total='13']")  # the tab shows the audience's filter
    assert page.input_value(".filters input[name=city]") == "Roma" and page.is_visible(".all-selected")
    assert_accessible(page, "compose after loading an audience")


def test_send_a_test_to_myself_says_where_it_went(page, sender_user, smtp_server):
    sender_user.first_name = "Sally"
    sender_user.save()
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.check("input[name=methods][value=email]")
    page.check("input[name=methods][value=sms]")
    page.fill("#id_subject", "Try {{ first_name }}")
    page.fill("#id_body", "Hello {{ first_name }}")
    page.click("#test-button")
    page.wait_for_selector("#test-result li")
    text = page.inner_text("#test-result")
    assert "Sent to sally@example.com." in text and "no phone number is known for you" in text
    [mail] = smtp_server.messages
    assert mail["Subject"] == "Try Sally" and "Hello Sally" in mail.get_content()
    assert Broadcast.objects.get().origin == "test"
    assert_accessible(page, "compose after a test")


def test_a_formatted_email_previews_as_html(page, sender_user):
    [carla] = customers(1, first_name="Carla")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker input.row")
    page.check(f".picker input.row[value='{carla.pk}']")
    assert page.is_hidden("#format-field")
    page.check("input[name=methods][value=email]")
    page.check("input[name=body_format][value=markdown]")
    page.fill("#id_subject", "Hours")
    page.fill("#id_body", "# Hours\n\nDear **{{ first_name }}**, see [the page](https://example.com).\n\n- Mon\n- Tue")
    page.click("#preview-button")
    page.wait_for_selector("#preview [data-ok='1']")
    assert page.inner_text(".example-html strong") == "Carla"
    assert page.get_attribute(".example-html a", "href") == "https://example.com"
    assert page.locator(".example-html li").count() == 2
    assert_accessible(page, "compose after a formatted preview")


def test_the_picker_is_usable_at_phone_width(page, sender_user):
    customers(30, city="Roma", email="a.rather.long.address.for.a.phone@example-customers.com")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-total='30']")
    first = page.locator(".picker tbody tr").first
    assert first.locator("td.lead").all_inner_texts() == ["Last0", "First0"]  # the whole name, nothing hidden
    assert first.locator("td.lead").first.is_visible() and first.locator("td.last-lead").is_visible()
    box = first.locator("input.row").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24  # a target a thumb can hit (WCAG 2.5.8)
    first.locator("td.lead").first.click()  # a tap on the name ticks the row
    assert first.locator("input.row").is_checked()
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '1'")
    first.locator("td", has_text="Roma").click()  # and a second tap unticks it
    assert not first.locator("input.row").is_checked()
    assert_fits(page, "picker at phone width")
    assert_accessible(page, "picker at phone width")
    shot(page, "11-phone-picker")


def test_the_admin_retry_asks_first_showing_the_split_and_the_cost(page, sender_user, smtp_server):
    from decimal import Decimal

    from django.contrib.auth.models import User

    from sender.conf import sender_settings
    from sender.models import MessageRecipient
    from tests.history_world import send, settle

    people = customers(3)
    sent = settle(send(sender_user, people, ["email"]).sents.get(), unit_cost=Decimal("0.10"),
                  failed={people[0].email: "421 try later", people[1].email: "550 no such user"})
    MessageRecipient.objects.filter(address=people[0].email).update(attempts=sender_settings.MAX_ATTEMPTS)
    User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    log_in(page, "root", "pw-root-123")
    page.goto("/admin/sender/messagesent/")
    page.check(f"input[name=_selected_action][value='{sent.pk}']")
    page.select_option("select[name=action]", "retry_failed_rows")
    page.click("button[name=index]")
    page.wait_for_selector("text=Retry the 1 temporary failure")
    assert "refused for good" in page.inner_text("#content").lower()
    assert_accessible(page, "admin retry confirmation")
    page.click("text=Retry the 1 temporary failure")
    page.wait_for_selector("text=1 failed row was queued again.")
    assert MessageRecipient.objects.get(address=people[1].email).status == "failed"
