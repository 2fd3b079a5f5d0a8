"""Each send method's batches go to its own queue: a Telegram queue nobody serves (or a slow
one) never holds up email."""

from django_tasks_db.models import DBTaskResult

from sender.audience.models import Customer
from sender.channels import Draft
from sender.models import MessageSent
from sender.pipeline.commit import commit
from tests.telegram.test_sending import EVERYONE, linked_customers


def test_email_is_delivered_while_the_telegram_queue_is_blocked(sender_user, smtp_server, sandbox, run_worker):
    people = linked_customers(20)
    for p in people:
        Customer.objects.filter(pk=p.pk).update(email=f"p{p.pk}@example.com")
    broadcast = commit(EVERYONE, sender_user, ["email", "telegram"], Draft(body="Both ways", subject="Hi"), "queues")
    email, telegram = broadcast.sents.get(method="email"), broadcast.sents.get(method="telegram")

    run_worker(queues=("email",))  # the only worker serves email; Telegram's queue waits

    email.refresh_from_db()
    telegram.refresh_from_db()
    assert (email.status, email.sent_count) == (MessageSent.Status.DONE, 20)
    assert sorted(smtp_server.recipients()) == sorted(f"p{p.pk}@example.com" for p in people)
    assert (telegram.status, telegram.pending_count) == (MessageSent.Status.QUEUED, 20)
    assert sandbox.state.sent == []
    assert DBTaskResult.objects.filter(status="READY", queue_name="telegram").count() == 1

    run_worker(queues=("telegram",))

    telegram.refresh_from_db()
    assert (telegram.status, telegram.delivered_count) == (MessageSent.Status.DONE, 20)
    assert sorted(s["chat_id"] for s in sandbox.state.sent) == list(range(7_000_000, 7_000_020))
