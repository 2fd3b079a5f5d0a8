"""Accessibility (issue 16, item 11): axe-core finds no WCAG 2.1 A/AA violation on the pages
staff and recipients use, and the whole job can be done from the keyboard alone: pick
recipients, attach a file, preview and send."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import Broadcast, MessageSent
from sender.pipeline.scheduling import schedule
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import log_in
from tests.factories import customers
from tests.history_world import grant, send, settle
from tests.inbox.conftest import person

pytestmark = pytest.mark.browser


@pytest.fixture
def world(sender_user):
    """A finished broadcast with a failure and a reader-to-be, a scheduled one, some customers."""
    rita, record = person("rita", "rita@example.com")
    people = [record, *customers(12, city="Roma")]
    customers(1, city="Roma", email="not an address", phone="12", first_name="Wrong", last_name="Details")
    broadcast = send(sender_user, people, ["email", "storage"], subject="Office closed", body="Closed on Monday.")
    for sent in broadcast.sents.all():
        settle(sent, failed={people[1].email: "550 5.1.1 No such user"} if sent.method == "email" else {},
               unit_cost=Decimal("0.01"))
    DBTaskResult.objects.all().delete()
    schedule(Selection.parse({"recipients.customer": {"filter": "city=Roma"}}), sender_user, ["storage"],
             Draft(body="Later"), timezone.now() + timedelta(days=2), uuid.uuid4().hex)
    return {"broadcast": broadcast, "customer": people[1]}


def test_every_page_has_no_wcag_violation(page, sender_user, world):
    grant(sender_user, "view_all_messages", "mark_invoiced")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer'] input.row")
    assert_accessible(page, "compose")
    page.click(".select-all")
    page.check("input[name=methods][value=email]")
    page.check("input[name=methods][value=storage]")
    page.fill("#id_subject", "Hello")
    page.fill("#id_body", "Hello")
    page.click("#preview-button")
    page.wait_for_selector("#preview [data-ok]")
    assert page.get_attribute("#preview [data-ok]", "data-ok") == "1", page.inner_text("#preview")
    page.locator("#preview details.rejected-list summary").first.click()
    assert_accessible(page, "compose after preview")

    pages = {
        "broadcast": world["broadcast"].get_absolute_url(), "history": "/history/",
        "reports": "/reports/?period=monthly&group=method", "scheduled": "/scheduled/",
        "tokens": "/api/tokens/", "Telegram chat": f"/telegram/chat/recipients.customer/{world['customer'].pk}/",
        "recipient history": f"/recipients/recipients.customer/{world['customer'].pk}/history/",
        "admin index": "/admin/",
    }
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, name
        assert_accessible(page, name)

    page.context.clear_cookies()
    log_in(page, "rita", "pw-rita-123")
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert_accessible(page, "inbox")
    assert page.get_by_role("link", name=re.compile(r"Inbox 1 unread")).count() == 1  # the number is in its name
    page.click("text=Office closed")
    page.wait_for_selector("text=Closed on Monday.")
    assert_accessible(page, "message")


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_the_whole_job_from_the_keyboard(page, sender_user, smtp_server, tmp_path):
    people = customers(4, city="Roma")
    customers(3, city="Milano")
    leaflet = tmp_path / "leaflet.pdf"
    leaflet.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
                        b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer'] input.row")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")  # skip the top bar
    tab_to(page, ".filters input[name=city]")
    page.keyboard.type("Roma")
    page.wait_for_selector(".picker[data-total='4']")
    assert page.inner_text("#picker-status") == "4 match"
    first = f"input.row[aria-label='Select {people[0].last_name} {people[0].first_name}']"
    tab_to(page, first)
    page.keyboard.press("Space")
    tab_to(page, ".select-all")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '4'")

    tab_to(page, "input[name=methods][value=email]")
    page.keyboard.press("Space")
    tab_to(page, "#id_subject")
    page.keyboard.type("Leaflet")
    tab_to(page, "#id_body")
    page.keyboard.type("The new leaflet is attached.")
    tab_to(page, "#file-input")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(leaflet))
    page.wait_for_selector(".attachment-list li[data-id]")
    tab_to(page, "#preview-button")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('send-button').disabled")
    tab_to(page, "#send-button")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/broadcasts/\d+/$"))
    page.wait_for_function("() => /Email: done/.test(document.getElementById('progress-status').textContent)",
                           timeout=30_000)
    sent = MessageSent.objects.get()
    assert (sent.status, sent.sent_count) == ("done", 4)
    assert sorted(smtp_server.recipients()) == sorted(p.email for p in people)
    assert Broadcast.objects.get().attachments.get().name == "leaflet.pdf"
