"""The broadcast page's websocket: only users who may see the broadcast get its progress."""

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.test import Client

from project.asgi import application
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageSent
from sender.pipeline import deliver
from sender.pipeline.commit import commit
from tests.factories import customers


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def connect(broadcast_id, user=None):
    headers = [(b"origin", b"http://localhost")]
    if user:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, f"/ws/broadcasts/{broadcast_id}/", headers=headers)


def make_broadcast(user):
    customers(3)
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"],
                  Draft(body="Hi"), "socket-key")


def test_the_sender_gets_the_counters_then_live_progress(sender_user, transactional_db):
    broadcast = make_broadcast(sender_user)
    sent = broadcast.sents.get()

    socket = connect(broadcast.pk, sender_user)

    async def scenario():
        connected, _ = await socket.connect()
        assert connected
        snapshot = await socket.receive_json_from()
        assert (snapshot["method"], snapshot["pending"], snapshot["delivered"]) == ("storage", 3, 0)
        await database_sync_to_async(deliver.deliver_batch)(sent.pk, 0)
        event = await socket.receive_json_from(timeout=5)
        assert (event["sent_id"], event["status"], event["delivered"], event["pending"]) == (sent.pk, "done", 3, 0)
        await socket.disconnect()

    async_to_sync(scenario)()
    assert MessageSent.objects.get(pk=sent.pk).status == "done"


def test_others_and_anonymous_are_refused(sender_user, perm_user, transactional_db):
    broadcast = make_broadcast(sender_user)

    async def refused(socket):
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert async_to_sync(refused)(connect(broadcast.pk, perm_user)) == (False, 4403)
    assert async_to_sync(refused)(connect(broadcast.pk)) == (False, 4403)


def test_view_all_permission_lets_a_supervisor_watch(sender_user, perm_user, transactional_db):
    broadcast = make_broadcast(sender_user)
    perm_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))

    socket = connect(broadcast.pk, perm_user)

    async def watch():
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert async_to_sync(watch)()
