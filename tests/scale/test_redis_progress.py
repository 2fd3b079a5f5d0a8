"""With Redis, progress crosses processes: a worker process publishes, the websocket in
another process relays it, without reading the database again."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.pipeline.commit import commit
from sender.web import consumers
from tests.factories import customers
from tests.processes import process_env
from tests.scale.conftest import Worker
from tests.test_progress_socket import connect

pytestmark = pytest.mark.skipif(
    not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"),
    reason="needs Redis: set REDIS_URL (make test does when 127.0.0.1:6379 answers)",
)


def test_a_worker_process_reaches_the_websocket_through_redis(sender_user, transactional_db, monkeypatch):
    monkeypatch.setattr(consumers.BroadcastProgressConsumer, "poll_seconds", 3600)  # one read at connect, then only the layer
    customers(3)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi"), "redis")
    socket = connect(broadcast.pk, sender_user)

    async def scenario():
        connected, _ = await socket.connect()
        assert connected
        snapshot = await socket.receive_json_from()
        assert (snapshot["status"], snapshot["pending"]) == ("queued", 3)
        worker = Worker("redis-worker", process_env(DJANGO_SETTINGS_MODULE="project.settings"), batch=True)
        event = await socket.receive_json_from(timeout=60)
        code, output = worker.wait()
        assert code == 0, output
        await socket.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert (event["status"], event["delivered"], event["pending"]) == ("done", 3, 0)
