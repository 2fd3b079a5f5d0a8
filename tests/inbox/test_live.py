"""The header's live unread counter: a socket per logged-in person, pushed a new count when
the real worker delivers a stored message to them; anonymous sockets and people without a
recipient record are refused, and nobody hears about another person's messages."""

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from project.asgi import application
from sender.inbox import live
from sender.inbox.messages import find_message, mark_read, received
from sender.inbox.people import records_for
from sender.web import inbox_counter as consumers
from tests.inbox.conftest import send_stored
from tests.worker import run_worker


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket_for(user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


def test_the_counter_follows_deliveries_by_the_real_worker_and_reads(sender_user, rita, olga, transactional_db,
                                                                      monkeypatch):
    monkeypatch.setattr(consumers.InboxCounterConsumer, "poll_seconds", 600)  # so only the worker's event can bring the update
    rita_user, rita_record = rita
    _, olga_record = olga
    send_stored(sender_user, [rita_record], subject="Already there")
    rita_socket = socket_for(rita_user)

    async def scenario():
        connected, _ = await rita_socket.connect()
        assert connected
        assert await rita_socket.receive_json_from() == {"unread": 1}

        await database_sync_to_async(send_stored)(sender_user, [rita_record], subject="New", run=False)
        await database_sync_to_async(run_worker)()
        assert await rita_socket.receive_json_from(timeout=10) == {"unread": 2}

        # A message for Olga only: Rita's count does not move, so her socket hears nothing.
        await database_sync_to_async(send_stored)(sender_user, [olga_record], subject="Olga's", run=False)
        await database_sync_to_async(run_worker)()
        assert await rita_socket.receive_nothing(timeout=0.5)

        # Rita reads one in another tab: this socket follows.
        @database_sync_to_async
        def read_newest():
            records = records_for(rita_user)
            newest = max(received(records).values_list("message_sent_id", flat=True))
            mark_read(find_message(records, newest), rita_user)
            live.publish_read(rita_user.pk)

        await read_newest()
        assert await rita_socket.receive_json_from(timeout=10) == {"unread": 1}
        await rita_socket.disconnect()

    async_to_sync(scenario)()


def test_anonymous_and_non_recipient_sockets_are_refused(sender_user, outsider, transactional_db):
    async def attempt(socket):
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert async_to_sync(attempt)(socket_for()) == (False, 4403)
    assert async_to_sync(attempt)(socket_for(outsider)) == (False, 4403)  # logged in, no recipient record
    assert async_to_sync(attempt)(socket_for(sender_user)) == (False, 4403)  # staff, no recipient record
