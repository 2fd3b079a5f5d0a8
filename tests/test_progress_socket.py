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


def test_a_reader_makes_the_page_reload_its_live_parts(sender_user, transactional_db):
    from sender.inbox.messages import mark_read
    from tests.inbox.conftest import person

    rita, record = person("rita", "rita@example.com")
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi"), "reader-key")
    sent = broadcast.sents.get()
    deliver.deliver_batch(sent.pk, 0)
    socket = connect(broadcast.pk, sender_user)

    async def scenario():
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["status"] == "done"
        await database_sync_to_async(mark_read)(sent, rita)
        event = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return event

    assert async_to_sync(scenario)() == {"kind": "page"}


class FakeTimer:
    """Records what the coalescer schedules; the test fires it."""

    started: list["FakeTimer"] = []

    def __init__(self, wait, function, args):
        self.wait, self.function, self.args = wait, function, args

    def start(self):
        FakeTimer.started.append(self)


def test_changes_between_checkpoints_fold_into_one_publish():
    from sender.pipeline.progress import Coalescer

    now, sent, enabled = [10.0], [], [True]
    FakeTimer.started = []
    publish = Coalescer(sent.append, interval=0.25, enabled=lambda: enabled[0], clock=lambda: now[0],
                        timer=FakeTimer)

    def fire(timer):
        timer.function(*timer.args)

    publish(7)  # the first change goes out as soon as the timer thread runs
    for t in (10.05, 10.1):  # more receipts for the same method meanwhile: folded into it
        now[0] = t
        publish(7)
    publish(8)  # another method is not held back
    assert sent == [] and [(t.wait, t.args) for t in FakeTimer.started] == [(0.0, [7]), (0.0, [8])]
    fire(FakeTimer.started[0])
    fire(FakeTimer.started[1])
    assert sent == [7, 8]  # each publish reads the counters when it runs: the burst's last change is in it

    now[0] = 10.2  # soon after a publish (at 10.1), the next waits for the rest of the interval
    publish(7)
    assert round(FakeTimer.started[2].wait, 2) == 0.15
    fire(FakeTimer.started[2])
    assert sent == [7, 8, 7]

    enabled[0] = False  # the in-memory layer: the sockets poll, nothing is scheduled
    now[0] = 11.0
    publish(7)
    assert sent == [7, 8, 7] and len(FakeTimer.started) == 3


def test_cancelled_publications_never_run_and_leave_no_thread():
    import threading
    import time

    from sender.pipeline.progress import Coalescer

    sent, running, release = [], threading.Event(), threading.Event()

    def send(key):
        if key == "slow":
            running.set()
            release.wait(5)
        sent.append(key)

    publish = Coalescer(send, interval=60.0)
    publish("slow")  # due at once: it is running when the cancel comes
    assert running.wait(5)
    publish.mark("late")
    publish("late")  # due in a minute: still waiting
    threading.Thread(target=lambda: (time.sleep(0.1), release.set())).start()
    publish.cancel()
    assert sent == ["slow"]  # the running one was waited for, the waiting one dropped
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]
    publish("late")  # a cancel forgets what was scheduled: the key can be scheduled again
    publish.cancel()
