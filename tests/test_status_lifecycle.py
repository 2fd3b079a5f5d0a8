"""A row's status only moves forward, whatever order and however often receipts come."""

import itertools
import random

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.receipts import apply_receipts
from tests.factories import customers
from tests.sms.conftest import sms_settings

Status = MessageRecipient.Status
RECEIPTS = {  # per row: every receipt the gateway will ever send for it, and where it must end
    0: ([Status.SENT, Status.DELIVERED], Status.DELIVERED),
    1: ([Status.SENT, Status.FAILED], Status.FAILED),
    2: ([Status.UNKNOWN, Status.SENT], Status.SENT),
    3: ([Status.DELIVERED, Status.FAILED], None),  # two ends: the first one reached stays
    4: ([Status.SENT], Status.SENT),
}


def sent_over_sms(user, run_worker, settings) -> MessageSent:
    settings.SENDER = sms_settings(settings, "", backend="console")
    customers(len(RECEIPTS))
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["sms"], Draft(body="Hi"), "k")
    run_worker()
    sent = broadcast.sents.get()
    assert set(MessageRecipient.objects.filter(message_sent=sent).values_list("status", flat=True)) == {Status.SENT}
    return sent


def test_receipts_out_of_order_and_twice_end_at_the_furthest_status_with_exact_counters(
        sender_user, run_worker, settings):
    sent = sent_over_sms(sender_user, run_worker, settings)
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    # Every receipt twice, shuffled: late ones arrive after later ones, duplicates anywhere.
    feed = [(rows[k].code, status) for k, (statuses, _end) in RECEIPTS.items() for status in statuses] * 2
    random.Random(15).shuffle(feed)
    for code, status in feed:
        apply_receipts({code: (status, f"report: {status}")})

    final = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("id", "status"))
    # Row 3 got both ends: the one that came first stays.
    first_end = next(status for code, status in feed if code == rows[3].code)
    assert final[rows[3].id] == first_end
    for k, (_statuses, end) in RECEIPTS.items():
        if k != 3:
            assert final[rows[k].id] == end, k
    sent.refresh_from_db()
    counts = sent.counts()
    by_rows = {status: list(final.values()).count(status) for status in Status.values}
    assert counts == by_rows
    assert sent.total == len(RECEIPTS)
    assert MessageRecipient.objects.get(pk=rows[1].id).reason_code == "rejected"


def test_a_late_sent_after_delivered_changes_nothing(sender_user, run_worker, settings):
    sent = sent_over_sms(sender_user, run_worker, settings)
    row = MessageRecipient.objects.filter(message_sent=sent).first()
    assert apply_receipts({row.code: (Status.DELIVERED, "")}) == 1
    assert apply_receipts({row.code: (Status.DELIVERED, "")}) == 0  # the same receipt again
    assert apply_receipts({row.code: (Status.SENT, "late")}) == 0
    assert apply_receipts({row.code: (Status.UNKNOWN, "later still")}) == 0
    assert apply_receipts({row.code: (Status.FAILED, "contradicts it")}) == 0
    row.refresh_from_db()
    sent.refresh_from_db()
    assert (row.status, row.reason) == (Status.DELIVERED, "")
    assert (sent.sent_count, sent.delivered_count, sent.failed_count) == (len(RECEIPTS) - 1, 1, 0)


def test_every_order_of_two_receipts_ends_the_same(sender_user, run_worker, settings):
    sent = sent_over_sms(sender_user, run_worker, settings)
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    pairs = [(Status.UNKNOWN, Status.DELIVERED), (Status.SENT, Status.FAILED), (Status.UNKNOWN, Status.SENT)]
    for row, pair in zip(rows, pairs):
        for first, second in itertools.permutations(pair):
            apply_receipts({row.code: (first, "")})
            apply_receipts({row.code: (second, "")})
    final = [MessageRecipient.objects.get(pk=row.pk).status for row in rows[:3]]
    assert final == [Status.DELIVERED, Status.FAILED, Status.SENT]
