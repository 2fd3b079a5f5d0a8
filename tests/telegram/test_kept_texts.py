"""Telegram rows keep the text each chat read (placeholders filled in), and the staff chat
page shows that text for our messages, not the template."""

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from tests.telegram.test_chat import linked, url
from tests.telegram.test_sending import drain, linked_customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def test_each_telegram_row_keeps_the_text_its_chat_read(sender_user, sandbox, run_worker):
    people = linked_customers(3)
    sent = commit(EVERYONE, sender_user, ["telegram"], Draft(body="Ciao {{ first_name }}!"), "tg-kept"
                  ).sents.get(method="telegram")
    drain(run_worker, sent)
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "text"))
    for i, person in enumerate(people):
        [message] = sandbox.state.sent_to(7_000_000 + i)
        assert rows[str(7_000_000 + i)] == message["text"] == f"Ciao {person.first_name}!"


def test_the_chat_page_shows_the_text_the_person_read(sandbox, sender_user, staff_client, run_worker):
    mario = linked()
    mario.first_name = "Carla <i>"
    mario.save()
    sent = commit(Selection.parse({"recipients.customer": {"ids": [mario.pk]}}), sender_user, ["telegram"],
                  Draft(body="Dear {{ first_name }}, see you."), "chat-kept").sents.get()
    drain(run_worker, sent)
    page = staff_client.get(url(mario)).content.decode()
    assert "Dear Carla &lt;i&gt;, see you." in page
    assert "{{ first_name }}" not in page and "<i>" not in page
