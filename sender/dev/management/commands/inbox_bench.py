"""Measure the recipient inbox's server time and query count on the current database.

    DATABASE_URL=sqlite:////tmp/inbox.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/inbox.sqlite3 python manage.py inbox_bench --seed 100000

`--seed N` first stores N messages for one reader (customer "Inbox Reader", user
"inbox-reader"), each its own broadcast, plus `--others` rows per message for other customers
so the table is not the reader's alone; then it times the inbox pages (not a test).
"""

import json
import uuid

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test import Client
from django.urls import reverse

from sender.audience.models import Customer
from sender.dev.pages import time_page
from sender.inbox.messages import storage_aliases
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageUserRead
from sender.operations import refresh_statistics

READER = "inbox-reader"
CASES = [
    ("first page", {}),
    ("page 50", {"page": "50"}),
    ("text search", {"q": "message 4242"}),
]
CHUNK = 5000


class Command(BaseCommand):
    help = "Median server time and queries of the inbox for one reader with many stored messages."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="Store this many messages for the reader first.")
        parser.add_argument("--others", type=int, default=2, help="Other customers' rows per seeded message.")
        parser.add_argument("--repeat", type=int, default=7)

    def handle(self, *args, seed: int, others: int, repeat: int, **options) -> None:
        if seed:
            seed_inbox(seed, others)
        refresh_statistics()  # as sender_periodic does hourly (the planner's statistics)
        reader = get_user_model().objects.filter(username=READER).first()
        if reader is None:
            raise CommandError(f"No user {READER!r}: run with --seed N first.")
        client = Client()
        client.force_login(reader)
        results = [time_page(client, name, reverse("sender:inbox"), params, repeat) for name, params in CASES]
        results.append(time_page(client, "unread count (JSON)", reverse("sender:inbox_unread"), {}, repeat))
        stored = MessageRecipient.objects.filter(content_type=ContentType.objects.get_for_model(Customer),
                                                 object_id=str(Customer.objects.get(user=reader).pk)).count()
        self.stdout.write(json.dumps({"stored_for_reader": stored, "rows": MessageRecipient.objects.count(),
                                      "results": results}, indent=2))


def seed_inbox(n: int, others: int) -> None:
    """N broadcasts, each stored and delivered to the reader (and to `others` other customers)."""
    User = get_user_model()
    staff, _ = User.objects.get_or_create(username="inbox-bench-staff", defaults={"is_staff": True})
    reader = User.objects.filter(username=READER).first() or User.objects.create_user(READER, password=READER)
    customer = Customer.objects.filter(user=reader).first() or Customer.objects.create(
        first_name="Inbox", last_name="Reader", user=reader)
    crowd = Customer.objects.bulk_create(Customer(first_name="Other", last_name=str(i)) for i in range(max(others, 0)))
    ct = ContentType.objects.get_for_model(Customer)
    method = storage_aliases()[0]
    run = uuid.uuid4().hex[:8]
    with transaction.atomic():
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            broadcasts = Broadcast.objects.bulk_create(
                Broadcast(idempotency_key=f"inbox-{run}-{start + i}", subject=f"Stored message {start + i}",
                          body=f"Body of message {start + i}.", sender=staff) for i in range(size))
            sents = MessageSent.objects.bulk_create(
                MessageSent(broadcast=b, method=method, status=MessageSent.Status.DONE, delivered_count=1 + len(crowd))
                for b in broadcasts)
            rows = [MessageRecipient(message_sent=s, content_type=ct, object_id=str(c.pk), address=f"{ct.pk}:{c.pk}",
                                     status=MessageRecipient.Status.DELIVERED)
                    for s in sents for c in [customer, *crowd]]
            MessageRecipient.objects.bulk_create(rows, batch_size=CHUNK)
            # Every tenth message already read, as in a real inbox.
            MessageUserRead.objects.bulk_create(MessageUserRead(message_sent=s, user=reader) for s in sents[::10])
