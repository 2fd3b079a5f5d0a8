"""Telegram with placeholders: each chat reads its own text at the sandbox Bot API."""

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.pipeline.commit import commit
from tests.telegram.test_sending import drain, linked_customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def test_each_telegram_chat_reads_its_own_text(sender_user, sandbox, run_worker):
    people = linked_customers(3)
    sent = commit(EVERYONE, sender_user, ["telegram"], Draft(body="Ciao {{ first_name }}!"), "tg-ph"
                  ).sents.get(method="telegram")
    drain(run_worker, sent)
    for i, person in enumerate(people):
        assert [s["text"] for s in sandbox.state.sent_to(7_000_000 + i)] == [f"Ciao {person.first_name}!"]
