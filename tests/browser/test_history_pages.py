"""History, a broadcast's rows and the cost report in a real browser against the real server:
filter the history, open a broadcast, narrow its rows to the failed ones, download them as
CSV, and mark a month invoiced. Screenshots 7–9 of docs/dashboard.md come from here."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.models import MessageSent, MessageTypology
from tests.browser.conftest import log_in, shot
from tests.factories import customers
from tests.history_world import backdate, grant, send, settle

pytestmark = pytest.mark.browser

SUBJECTS = ["Office closed on Monday", "New opening hours", "Invoice reminder", "Summer newsletter",
            "Maintenance window", "Welcome to the new portal", "Price list 2026", "Survey: how did we do?"]


@pytest.fixture
def months_of_sending(sender_user, perm_user):
    """Eight finished broadcasts over the last eight months by two senders, one with bounces;
    no delivery task is left for the worker (the rows are settled here)."""
    notice = MessageTypology.objects.create(name="Notice")
    newsletter = MessageTypology.objects.create(name="Newsletter")
    people = customers(12, city="Roma")
    now = timezone.now()
    made = []
    for i, subject in enumerate(SUBJECTS):
        user = sender_user if i % 3 else perm_user
        broadcast = send(user, people[: 4 + i], ["email", "storage"] if i % 2 else ["email"], subject=subject,
                         body=f"{subject}.\n\nBest regards,\nThe office", typology=newsletter if i % 2 else notice)
        backdate(broadcast, now - timedelta(days=30 * (len(SUBJECTS) - 1 - i) + 1))
        failed = {people[0].email: "550 5.1.1 <c0@example.com>: Recipient address rejected",
                  people[3].email: "452 4.2.2 Mailbox full"} if subject == "Invoice reminder" else {}
        for sent in broadcast.sents.all():
            settle(sent, failed=failed if sent.method == "email" else {},
                   unit_cost=Decimal("0.012") * (1 + i % 3) if sent.method == "email" else Decimal(0),
                   ref=f"<{subject[:6].lower().replace(' ', '')}@sender>" if sent.method == "email" else "")
        made.append(broadcast)
    DBTaskResult.objects.all().delete()
    return made


def test_history_detail_csv_and_report(page, sender_user, months_of_sending):
    grant(sender_user, "view_all_messages", "mark_invoiced")
    log_in(page, "sally", "pw-sally-123")

    page.goto("/history/")
    page.wait_for_selector("table.history tbody tr[data-broadcast]")
    assert page.locator("table.history tbody tr[data-broadcast]").count() == 8
    shot(page, "7-history")
    page.select_option("select[name=status]", "with_failed")
    page.click(".filters button[type=submit]")
    page.wait_for_selector("table.history tbody tr[data-broadcast] >> nth=0")
    assert page.locator("table.history tbody tr[data-broadcast]").count() == 1

    page.click("text=Invoice reminder")
    page.wait_for_selector("#rows table.recipient-rows")
    assert "Recipient address rejected" in page.inner_text("#rows")
    page.select_option("#rows select[name=status]", "failed")
    page.click("#rows .filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#rows tr[data-row]').length === 2")
    shot(page, "8-broadcast-detail")

    with page.expect_download() as download:
        page.click("#rows a[download]")
    text = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["reason"] for r in rows) == ["452 4.2.2 Mailbox full",
                                                  "550 5.1.1 <c0@example.com>: Recipient address rejected"]

    page.click("#rows tr[data-row] >> nth=0 >> th >> a")  # the recipient's own history
    page.wait_for_selector("table.recipient-history")
    assert "Invoice reminder" in page.inner_text("table.recipient-history")
    assert page.locator("table.recipient-history tbody tr").count() >= 8

    page.goto("/reports/?period=monthly&group=method")
    page.wait_for_selector("figure.chart svg rect.bar")
    assert page.locator("figure.chart svg rect.bar").count() >= 8
    shot(page, "9-report")
    before = MessageSent.objects.filter(invoiced=True).count()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("table.report form button").first.click()
    page.evaluate("0")
    assert re.fullmatch(r"Mark €\s?[\d.,]+ of \w+ \d{4} as invoiced\?", questions[0])
    assert MessageSent.objects.filter(invoiced=True).count() == before  # said no: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.report form button").first.click()
    page.wait_for_selector(".flash.success")
    assert "messages marked invoiced" in page.inner_text(".flash.success")
    assert MessageSent.objects.filter(invoiced=True).count() == before + 1
    assert MessageSent.objects.get(invoiced=True).invoiced_by_id == sender_user.pk
    page.click(".undo-invoice button")
    page.wait_for_selector(".flash.success >> text=no longer marked invoiced")
    assert MessageSent.objects.filter(invoiced=True).count() == before
