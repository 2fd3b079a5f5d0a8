"""The staff chat view per recipient: history both ways, the reply box through the real
pipeline and worker, and new incoming messages live over the websocket."""

import json
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from project.asgi import application
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.telegram import incoming
from sender.channels.telegram.models import TelegramLink
from sender.models import IncomingMessage, MessageRecipient
from sender.pipeline.commit import commit
from tests.telegram.conftest import SECRET

CHAT = 5550001


def linked(**fields) -> Customer:
    customer = Customer.objects.create(first_name="Mario", last_name="Rossi", phone="+393471200001",
                                       telegram_chat_id=str(CHAT), **fields)
    TelegramLink.objects.create(content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk),
                                chat_id=CHAT)
    return customer


def url(customer) -> str:
    return f"/telegram/chat/recipients.customer/{customer.pk}/"


def received(customer, text: str, n: int = 1, minutes_ago: int = 0) -> IncomingMessage:
    return IncomingMessage.objects.create(
        method="telegram", gateway_id=f"{CHAT}:{n}", sender=str(CHAT), text=text,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk))


def test_the_chat_shows_what_was_sent_and_received_in_order(sandbox, sender_user, staff_client, run_worker):
    mario = linked()
    received(mario, "Is the office open?", n=1, minutes_ago=5)
    commit(Selection.parse({"recipients.customer": {"ids": [mario.pk]}}), sender_user, ["telegram"],
           Draft(body="Yes, until 18:00."), "chat-1")
    run_worker()

    page = staff_client.get(url(mario)).content.decode()

    assert page.index("Is the office open?") < page.index("Yes, until 18:00.")
    assert f"Linked to chat {CHAT}" in page
    assert "delivered" in page


def test_the_reply_box_sends_through_the_pipeline(sandbox, sender_user, staff_client, run_worker):
    mario = linked()

    response = staff_client.post(url(mario), {"body": "See you Tuesday.", "idempotency_key": "reply-1"})
    assert response.status_code == 302
    staff_client.post(url(mario), {"body": "See you Tuesday.", "idempotency_key": "reply-1"})  # a double click
    run_worker()

    assert [s["text"] for s in sandbox.state.sent_to(CHAT)] == ["See you Tuesday."]
    row = MessageRecipient.objects.get()
    assert (row.status, row.object_id, row.message_sent.method) == ("delivered", str(mario.pk), "telegram")
    assert "See you Tuesday." in staff_client.get(url(mario)).content.decode()
    # A one-to-one reply is no broadcast: not in History nor on the dashboard, but in Mario's history.
    assert "See you Tuesday." not in staff_client.get("/history/").content.decode()
    assert "See you Tuesday." not in staff_client.get("/").content.decode()
    assert "See you Tuesday." in staff_client.get(f"/recipients/recipients.customer/{mario.pk}/history/").content.decode()


def test_a_reply_that_cannot_go_is_explained_on_the_page(sandbox, staff_client):
    mario = linked()

    empty = staff_client.post(url(mario), {"body": "  ", "idempotency_key": "e"})
    long = staff_client.post(url(mario), {"body": "x" * 4100, "idempotency_key": "l"})

    assert empty.status_code == long.status_code == 400
    assert "Write a message first." in empty.content.decode()
    assert "Telegram allows at most 4096 characters" in long.content.decode()
    assert not MessageRecipient.objects.exists()


def test_staff_who_may_not_send_read_but_cannot_reply(sandbox, nosend_user):
    mario = linked()
    received(mario, "Hello")
    client = Client()
    client.force_login(nosend_user)

    page = client.get(url(mario)).content.decode()
    refused = client.post(url(mario), {"body": "Hi", "idempotency_key": "n"})

    assert "Hello" in page and "Send over Telegram" not in page
    assert refused.status_code == 400 and "permission" in refused.content.decode()
    assert not MessageRecipient.objects.exists()


def test_others_get_a_refusal_or_a_404(sandbox, outsider, sender_user, staff_client):
    theirs = linked(owner=User.objects.create_user("olga", is_staff=True))
    client = Client()
    client.force_login(outsider)

    assert client.get(url(theirs)).status_code == 403  # not staff
    assert staff_client.get(url(theirs)).status_code == 404  # another account manager's customer
    assert staff_client.get("/telegram/chat/recipients.nothing/1/").status_code == 404
    assert staff_client.post(f"{url(theirs)}deep-link/").status_code == 404


def test_the_history_costs_the_same_queries_for_few_or_many_messages(sandbox, sender_user, staff_client,
                                                                     django_assert_max_num_queries):
    mario = linked()
    selection = Selection.parse({"recipients.customer": {"ids": [mario.pk]}})
    commit(selection, sender_user, ["telegram"], Draft(body="One"), "q-1")
    received(mario, "First", n=1)
    with django_assert_max_num_queries(20) as few:
        staff_client.get(url(mario))
    for n in range(2, 30):
        commit(selection, sender_user, ["telegram"], Draft(body=f"Message {n}"), f"q-{n}")
        received(mario, f"Reply {n}", n=n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = staff_client.get(url(mario)).content.decode()
    assert "Message 29" in page and "Reply 29" in page


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(customer, user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if user:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, f"/ws/telegram/recipients.customer/{customer.pk}/", headers=headers)


def test_new_incoming_messages_appear_live(sandbox, sender_user, transactional_db):
    mario = linked()
    live = socket(mario, sender_user)

    async def scenario():
        connected, _ = await live.connect()
        assert connected
        await database_sync_to_async(incoming.store)("telegram", CHAT, 77, "Running late, sorry", timezone.now())
        event = await live.receive_json_from(timeout=5)
        assert "Running late, sorry" in event["html"] and 'class="tg-entry tg-in"' in event["html"]
        assert await live.receive_nothing(timeout=2.5)  # the poll finds it too, but it is sent once
        await live.disconnect()

    async_to_sync(scenario)()


def test_a_message_written_to_the_bot_reaches_the_open_chat_view(sandbox, sender_user, transactional_db):
    mario = linked()
    live = socket(mario, sender_user)
    sandbox.state.send_text(CHAT, "Do you deliver on Sundays?")
    (update,) = sandbox.state.updates

    async def scenario():
        assert (await live.connect())[0]
        response = await database_sync_to_async(Client().post)(
            "/telegram/webhook/", json.dumps(update), content_type="application/json",
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200
        event = await live.receive_json_from(timeout=5)
        assert "Do you deliver on Sundays?" in event["html"]
        await live.disconnect()

    async_to_sync(scenario)()
    assert IncomingMessage.objects.get().recipient == mario


def test_the_socket_refuses_anonymous_outsiders_and_hidden_recipients(sandbox, outsider, sender_user, transactional_db):
    hidden = linked(owner=User.objects.create_user("olga", is_staff=True))

    async def refused(communicator):
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return not connected and code == 4403

    assert async_to_sync(refused)(socket(hidden))
    assert async_to_sync(refused)(socket(hidden, outsider))
    assert async_to_sync(refused)(socket(hidden, sender_user))
