"""The broadcast page stays live (issue 16, item 4): with the page open and never reloaded,
the rows table leaves "pending" when the rows are delivered, "Read online" moves from "not
delivered yet" to the share read when a recipient opens the message, and a status region
announces the progress and the end."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction
from django_tasks_db.models import DBTaskResult

from sender.pipeline import deliver
from tests.browser.conftest import log_in, shot
from tests.factories import customers
from tests.history_world import send
from tests.inbox.conftest import person

pytestmark = pytest.mark.browser


def deliver_elsewhere(sent_id: int) -> None:
    """Deliver as a worker would, off this thread: the browser's event loop runs on it, where
    publishing progress to the channel layer cannot."""

    def run() -> None:
        try:
            deliver.deliver_batch(sent_id, 0)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def test_rows_reads_and_announcements_change_without_reload(page, sender_user):
    rita, record = person("rita", "rita@example.com")
    people = [record, *customers(2)]
    with transaction.atomic():  # the page's worker never sees the tasks: nothing is delivered until the test says so
        broadcast = send(sender_user, people, ["storage"], subject="Office closed", body="Closed on Monday.")
        DBTaskResult.objects.all().delete()
    sent = broadcast.sents.get()

    log_in(page, "sally", "pw-sally-123")
    page.goto(broadcast.get_absolute_url())
    page.wait_for_selector("#rows tr[data-row]")
    page.evaluate("window.notReloaded = true")
    assert page.locator("#rows tr[data-row] .badge.pending").count() == 3
    assert "not delivered yet" in page.inner_text("#reads")

    deliver_elsewhere(sent.pk)
    page.wait_for_function("() => document.querySelectorAll('#rows tr[data-row] .badge.delivered').length === 3")
    page.wait_for_function("() => document.getElementById('reads').textContent.includes('0 of 3 read')")
    page.wait_for_function("() => /3 delivered, 0 failed/.test(document.getElementById('progress-status').textContent)")

    reader = page.context.browser.new_context(base_url=page.url.split("/broadcasts/")[0])
    rita_page = reader.new_page()
    log_in(rita_page, "rita", "pw-rita-123")
    rita_page.click("text=Office closed")
    rita_page.wait_for_selector("text=Closed on Monday.")
    reader.close()

    page.wait_for_function("() => document.getElementById('reads').textContent.includes('1 of 3 read')")
    assert "Rita Reader" in page.inner_text("#reads table") or "rita" in page.inner_text("#reads table")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "10-live-broadcast")
