"""The benches that empty or rewind the recipient table refuse any database but the one
they were meant for: `commit_bench` a scratch PostgreSQL one, `redeliver_bench` one kept by
`sender_bench --keep`."""

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


def test_redeliver_bench_refuses_a_database_sender_bench_did_not_keep(sender_user):
    broadcast = Broadcast.objects.create(idempotency_key="kept", body="Hi", sender=sender_user)
    sent = MessageSent.objects.create(broadcast=broadcast, method="email")
    row = MessageRecipient.objects.create(message_sent=sent, address="kept@example.com",
                                          status=MessageRecipient.Status.SENT)
    with pytest.raises(CommandError, match="sender_bench_"):
        call_command("redeliver_bench", workers=1)
    row.refresh_from_db()
    assert row.status == MessageRecipient.Status.SENT
