"""Real worker processes on one broadcast: every row is delivered exactly once."""

import os
import subprocess
import sys
from collections import Counter

from django.conf import settings as django_settings

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import deliver_task
from tests.factories import customers
from tests.processes import database_url


def start_worker(name: str, smtp_port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SENDER_SMTP_PORT": str(smtp_port),
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    return subprocess.Popen(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), "db_worker", "--batch", "--no-startup-delay", "--queue-name", "*",
         "--interval", "0.05", "--worker-id", name],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_two_workers_never_deliver_a_row_twice(sender_user, smtp_server, transactional_db, settings):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 15}
    cs = customers(150)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                       Draft(body="Hello", subject="Twice?"), "two-workers")
    sent = broadcast.sents.get()
    for batch in range(10):  # every batch queued a second time: both workers may grab the same one
        deliver_task.enqueue(sent.pk, batch)
    workers = [start_worker(f"w{n}", smtp_server.port) for n in range(2)]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    received = Counter(smtp_server.recipients())
    assert received == Counter(c.email for c in cs)  # each address exactly once
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count) == (MessageSent.Status.DONE, 150, 0)
    assert set(MessageRecipient.objects.values_list("attempts", flat=True)) == {1}
