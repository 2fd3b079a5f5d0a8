"""The registration bot, through the webhook view and python-telegram-bot, against the sandbox:
what the person is told on every path, and what is (not) linked."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from sender.audience.models import Customer
from sender.audience.optout import is_opted_out
from sender.audience.selection import Selection
from sender.channels.base import Draft
from sender.channels.telegram.models import BotState, DeepLink, TelegramLink
from sender.models import IncomingMessage
from sender.pipeline.preview import preview
from sender.signals import message_received
from tests.telegram.conftest import SECRET

USER = 5550001
OTHER = 5550002
WEBHOOK = "/telegram/webhook/"


def deliver(sandbox, secret: str = SECRET) -> list[int]:
    """Hand every pending sandbox update to the webhook view, as Telegram would."""
    client, statuses = Client(), []
    with sandbox.state.lock:
        pending, sandbox.state.updates = list(sandbox.state.updates), []
    for update in pending:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = client.post(WEBHOOK, json.dumps(update), content_type="application/json", headers=headers)
        statuses.append(response.status_code)
    return statuses


def replies(sandbox, chat: int = USER) -> list[str]:
    return [s["text"] for s in sandbox.state.sent_to(chat)]


@pytest.fixture(autouse=True)
def _replies_may_come_in_bursts(sandbox):
    """Telegram tolerates a bot answering twice in a row; the sandbox's strict one-per-interval
    rule is for broadcasts (test_sending), and would only add retry waits here."""
    sandbox.state.chat_interval = 0


@pytest.fixture
def mario(db):
    return Customer.objects.create(first_name="Mario", last_name="Rossi", phone="+39 347 120 0001")


def test_start_asks_for_the_phone_number_with_a_contact_button(sandbox, db):
    sandbox.state.start(USER)

    assert deliver(sandbox) == [200]

    (reply,) = sandbox.state.sent_to(USER)
    assert "share your phone number" in reply["text"]
    button = reply["reply_markup"]["keyboard"][0][0]
    assert button["request_contact"] is True


def test_the_persons_own_contact_links_the_matching_recipient(sandbox, mario):
    sandbox.state.start(USER)
    sandbox.state.share_contact(USER, "393471200001")  # Telegram sends it without the +

    assert deliver(sandbox) == [200, 200]

    mario.refresh_from_db()
    assert mario.telegram_chat_id == str(USER)
    link = TelegramLink.objects.get()
    assert (link.chat_id, link.phone, link.active, link.recipient) == (USER, "+393471200001", True, mario)
    assert replies(sandbox)[-1] == "Done: you will receive messages for Mario Rossi here. Send /stop to unlink."
    assert sandbox.state.sent_to(USER)[-1]["reply_markup"] == {"remove_keyboard": True}


def test_someone_elses_contact_is_refused_and_links_nothing(sandbox, mario):
    sandbox.state.start(OTHER)
    sandbox.state.share_contact(OTHER, "393471200001", owner_id=USER)  # Mario's card, sent by another

    deliver(sandbox)

    mario.refresh_from_db()
    assert mario.telegram_chat_id == ""
    assert not TelegramLink.objects.exists()
    assert replies(sandbox, OTHER)[-1].startswith("That is not your own contact.")


def test_a_number_nobody_has_is_told_so(sandbox, mario):
    sandbox.state.share_contact(USER, "393479999999")

    deliver(sandbox)

    assert replies(sandbox)[-1].startswith("Sorry, we have no record with your phone number.")
    assert not TelegramLink.objects.exists()


def test_linking_twice_says_already_linked(sandbox, mario):
    sandbox.state.share_contact(USER, "+393471200001")
    sandbox.state.share_contact(USER, "+393471200001")

    deliver(sandbox)

    assert replies(sandbox)[-1] == "You are already linked as Mario Rossi. Send /stop to unlink."
    assert TelegramLink.objects.count() == 1


def test_a_deep_link_links_only_the_recipient_it_was_made_for(sandbox, mario, staff_client):
    sister = Customer.objects.create(first_name="Anna", last_name="Rossi", phone="347 120 0001")  # same family phone
    response = staff_client.post(f"/telegram/chat/recipients.customer/{sister.pk}/deep-link/", follow=True)
    token = DeepLink.objects.get().token
    assert f"https://t.me/sender_sandbox_bot?start={token}" in response.content.decode()

    sandbox.state.start(USER, token)
    deliver(sandbox)
    # The pending token is bot state, kept in the database between updates.
    assert BotState.objects.get(kind="chat", key=str(USER)).data == {"deep_link": token}
    sandbox.state.share_contact(USER, "393471200001")
    deliver(sandbox)

    sister.refresh_from_db()
    mario.refresh_from_db()
    assert (sister.telegram_chat_id, mario.telegram_chat_id) == (str(USER), "")
    assert replies(sandbox)[-1] == "Done: you will receive messages for Anna Rossi here. Send /stop to unlink."
    assert DeepLink.objects.get().used_by_chat == USER
    assert BotState.objects.get(kind="chat", key=str(USER)).data == {}


def test_a_used_deep_link_is_refused_politely(sandbox, mario, sender_user):
    used = DeepLink.objects.create(content_type_id=_ct(), object_id=str(mario.pk), created_by=sender_user)
    DeepLink.objects.filter(pk=used.pk).update(used_at="2026-01-01T00:00:00Z")

    sandbox.state.start(USER, used.token)
    deliver(sandbox)

    assert replies(sandbox)[0].startswith("This link has expired or was already used.")
    assert "share your phone number" in replies(sandbox)[1]


def _ct() -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(Customer).pk


def test_stop_unlinks(sandbox, mario):
    sandbox.state.share_contact(USER, "393471200001")
    sandbox.state.send_text(USER, "/stop")

    deliver(sandbox)

    mario.refresh_from_db()
    assert mario.telegram_chat_id == ""
    assert TelegramLink.objects.get().active is False
    assert replies(sandbox)[-1].startswith("You are unlinked")
    assert is_opted_out("telegram", str(USER))

    sandbox.state.send_text(USER, "/stop")
    deliver(sandbox)
    assert replies(sandbox)[-1] == "This chat is not linked to anyone. Send /start to link your number."


def test_help_lists_the_commands_and_says_whether_the_chat_is_linked(sandbox, mario):
    sandbox.state.send_text(USER, "/help")
    deliver(sandbox)
    sandbox.state.share_contact(USER, "393471200001")
    deliver(sandbox)
    sandbox.state.send_text(USER, "/help")
    deliver(sandbox)

    before, _linked, after = replies(sandbox)
    for command in ("/start", "/stop", "/cancel", "/help"):
        assert command in before
    assert before.endswith("This chat is not linked yet.")
    assert after.endswith("This chat is linked: you receive our messages here.")


def test_cancel_abandons_a_deep_link_registration_and_takes_the_button_away(sandbox, mario, staff_client):
    staff_client.post(f"/telegram/chat/recipients.customer/{mario.pk}/deep-link/")
    token = DeepLink.objects.get().token
    sandbox.state.start(USER, token)
    deliver(sandbox)
    assert BotState.objects.get(kind="chat", key=str(USER)).data == {"deep_link": token}

    sandbox.state.send_text(USER, "/cancel")
    deliver(sandbox)

    assert BotState.objects.get(kind="chat", key=str(USER)).data == {}
    last = sandbox.state.sent_to(USER)[-1]
    assert last["text"] == "Cancelled: your number was not linked. Send /start to try again."
    assert last["reply_markup"] == {"remove_keyboard": True}
    mario.refresh_from_db()
    assert mario.telegram_chat_id == "" and DeepLink.objects.get().used_by_chat is None
    sandbox.state.send_text(USER, "/cancel")
    deliver(sandbox)
    assert replies(sandbox)[-1] == "Nothing to cancel. Send /start to link your number, /help for the commands."


def test_a_chat_id_typed_back_after_stop_stays_opted_out_until_the_person_links_again(sandbox, mario, admin_user):
    sandbox.state.share_contact(USER, "393471200001")
    sandbox.state.send_text(USER, "/stop")
    deliver(sandbox)
    Customer.objects.filter(pk=mario.pk).update(telegram_chat_id=str(USER))  # staff types it back in
    selection = Selection.parse({"recipients.customer": {"ids": [mario.pk]}})
    result = preview(selection, admin_user, ["telegram"], Draft(body="Hello"))
    assert [(row.status, row.reason) for row in result.methods[0].rejected] == [
        ("opted_out", "The recipient opted out of Telegram.")]

    sandbox.state.share_contact(USER, "393471200001")
    deliver(sandbox)
    assert not is_opted_out("telegram", str(USER))


def test_blocking_the_bot_marks_the_link_inactive(sandbox, mario):
    sandbox.state.share_contact(USER, "393471200001")
    sandbox.state.block(USER)

    deliver(sandbox)

    link = TelegramLink.objects.get()
    assert (link.active, link.reason) == (False, "Forbidden: bot was blocked by the user")
    mario.refresh_from_db()
    assert mario.telegram_chat_id == ""


def test_what_a_linked_person_writes_is_stored_once_and_announced(sandbox, mario):
    received = []
    message_received.connect(lambda sender, messages, **kw: received.extend(messages), weak=False,
                             dispatch_uid="test-telegram")
    try:
        sandbox.state.share_contact(USER, "393471200001")
        sandbox.state.send_text(USER, "Can I come on Tuesday?")
        updates = list(sandbox.state.updates)
        deliver(sandbox)
        sandbox.state.updates.append(updates[-1])  # Telegram delivers it again
        deliver(sandbox)
    finally:
        message_received.disconnect(dispatch_uid="test-telegram")

    message = IncomingMessage.objects.get()
    assert (message.method, message.sender, message.text, message.recipient) == (
        "telegram", str(USER), "Can I come on Tuesday?", mario)
    assert received == [message]


def test_a_stranger_writing_is_told_how_to_link(sandbox, db):
    sandbox.state.send_text(USER, "hello?")

    deliver(sandbox)

    assert replies(sandbox) == ["I do not know you yet. Send /start to link your phone number."]
    assert not IncomingMessage.objects.exists()


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""])
def test_the_webhook_refuses_a_missing_or_wrong_secret_and_changes_nothing(sandbox, mario, secret):
    sandbox.state.share_contact(USER, "393471200001")

    assert deliver(sandbox, secret=secret) == [403]

    mario.refresh_from_db()
    assert mario.telegram_chat_id == ""
    assert not TelegramLink.objects.exists() and not BotState.objects.exists()
    assert sandbox.state.sent == []


def test_the_webhook_refuses_get_and_garbage(sandbox, db):
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert Client().get(WEBHOOK, headers=headers).status_code == 405
    assert Client().post(WEBHOOK, "nonsense", content_type="application/json", headers=headers).status_code == 400


def test_the_sandbox_delivers_to_the_webhook_with_the_secret_header(sandbox, live_server, transactional_db):
    Customer.objects.create(first_name="Mario", last_name="Rossi", phone="+393471200001")
    call_command("telegram_webhook", "set", f"{live_server.url}{WEBHOOK}")
    sandbox.state.start(USER)
    sandbox.state.share_contact(USER, "393471200001")

    assert sandbox.state.deliver_pending() == [200, 200]

    assert Customer.objects.get().telegram_chat_id == str(USER)
    # A sandbox that forgot the secret is refused, and keeps the update to try again.
    sandbox.state.webhook["secret"] = "not-ours"
    sandbox.state.send_text(USER, "/stop")
    assert sandbox.state.deliver_pending() == [403]
    assert len(sandbox.state.updates) == 1
    assert Customer.objects.get().telegram_chat_id == str(USER)
    call_command("telegram_webhook", "delete")
    assert sandbox.state.webhook["url"] == ""


def test_polling_handles_waiting_updates(sandbox, transactional_db):
    # Its own event loop, so its database calls run on another thread: no test transaction around it.
    mario = Customer.objects.create(first_name="Mario", last_name="Rossi", phone="+39 347 120 0001")
    sandbox.state.share_contact(USER, "393471200001")
    sandbox.state.send_text(USER, "Thanks!")

    call_command("telegram_poll", "--once")

    mario.refresh_from_db()
    assert mario.telegram_chat_id == str(USER)
    assert IncomingMessage.objects.get().text == "Thanks!"
    assert sandbox.state.updates == []  # confirmed with the next offset


def test_a_bot_that_stops_leaves_no_database_session_behind(sandbox, transactional_db):
    """Its queries ran on a thread that outlives it: a stopped bot used to leave that thread's
    session open, which keeps a database from being dropped or migrated."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no sessions to count (run with DATABASE_URL=postgres://…)")
    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    mario = Customer.objects.create(first_name="Mario", last_name="Rossi", phone="+39 347 120 0001")
    sandbox.state.share_contact(USER, "393471200001")
    before = sessions()
    call_command("telegram_poll", "--once")
    mario.refresh_from_db()
    assert mario.telegram_chat_id == str(USER)  # the bot's thread did query
    assert sessions() <= before  # (it may end one an earlier test left on that thread)
