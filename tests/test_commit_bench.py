"""`manage.py commit_bench` empties the recipient table before each run: it refuses any
database but a scratch PostgreSQL one."""

import pytest
from django.core.management import CommandError, call_command

from sender.models import Broadcast, MessageRecipient, MessageSent


def test_commit_bench_refuses_a_database_not_named_scratch(sender_user):
    broadcast = Broadcast.objects.create(idempotency_key="kept", body="Hi", sender=sender_user)
    sent = MessageSent.objects.create(broadcast=broadcast, method="email")
    MessageRecipient.objects.create(message_sent=sent, address="kept@example.com")
    with pytest.raises(CommandError, match="scratch"):
        call_command("commit_bench", runs=1, n=10)
    assert MessageRecipient.objects.filter(message_sent=sent).count() == 1
