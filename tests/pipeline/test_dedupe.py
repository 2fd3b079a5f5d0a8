"""Deduplication in fixed memory: classify remembers addresses as 64-bit hashes, and the
database gives back any row a hash collision wrongly called a duplicate."""

import tracemalloc

from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.models import MessageRecipient
from sender.pipeline.classify import classify
from sender.pipeline.commit import commit
from sender.pipeline.dedupe import AddressHashes, judge
from tests.factories import customers

Status = MessageRecipient.Status


def test_the_table_tells_new_from_seen_across_growth():
    seen = AddressHashes(capacity=8)
    assert all(seen.add(f"person{i}@example.com") for i in range(50_000))  # grows many times
    assert not any(seen.add(f"person{i}@example.com") for i in range(0, 50_000, 7))
    assert seen.count == 50_000


def test_classifying_200000_addresses_holds_far_less_than_the_addresses(db):
    """A set of the 200,000 normalized addresses alone took ~25 MB; the hashes take 4 MB."""
    resolved = ((1, str(i), {"email": f"Person.{i}@Example.com"}, None) for i in range(200_000))
    tracemalloc.start()
    try:
        pending = sum(1 for row in classify(resolved, [methods["email"]]) if row.status == Status.PENDING)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pending == 200_000
    assert peak < 10 * 1024 * 1024


def test_the_database_revives_a_duplicate_that_has_no_valid_twin(sender_user, db):
    """What a hash collision would leave (a "duplicate" whose address no valid row has)
    goes back to valid in the batch asked; true duplicates stay."""
    customers(3)
    customers(1, email="c0@example.com", phone="+393471299999")  # a true duplicate of the first
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                       Draft(body="Hi", subject="Dupes"), "dupes")
    sent = broadcast.sents.get()
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.DUPLICATE).count() == 1
    assert judge(sent.pk, 0) == 0  # a real duplicate: its twin is valid
    row = MessageRecipient.objects.get(message_sent=sent, address="c2@example.com")
    MessageRecipient.objects.filter(pk=row.pk).update(status=Status.DUPLICATE, reason="collision")
    twin = MessageRecipient.objects.create(message_sent=sent, content_type=row.content_type, object_id="x",
                                           address="c2@example.com", status=Status.DUPLICATE)

    assert judge(sent.pk, 7) == 1

    row.refresh_from_db()
    twin.refresh_from_db()
    assert (row.status, row.reason, row.batch) == (Status.PENDING, "", 7)
    assert twin.status == Status.DUPLICATE
