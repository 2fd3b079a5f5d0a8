"""With Redis, progress crosses processes: a worker process publishes, the websocket in
another process relays it, without reading the database again."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.inbox.messages import mark_read
from sender.models import MessageSent
from sender.pipeline import deliver
from sender.pipeline.commit import commit
from sender.receipts import apply_receipts
from sender.web import consumers
from tests.factories import customers
from tests.inbox.conftest import person
from tests.processes import process_env
from tests.scale.conftest import Worker
from tests.test_progress_socket import connect

pytestmark = pytest.mark.skipif(
    not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"),
    reason="needs Redis: set REDIS_URL (make test does when 127.0.0.1:6379 answers)",
)


@pytest.fixture
def snapshots(monkeypatch) -> list[int]:
    """Counts the consumer's database reads of the broadcast."""
    reads: list[int] = []
    original = consumers.BroadcastProgressConsumer.__dict__["_snapshot"]

    async def counting(self):
        reads.append(self.broadcast_id)
        return await original(self)

    monkeypatch.setattr(consumers.BroadcastProgressConsumer, "_snapshot", counting)
    return reads


def test_a_worker_process_reaches_the_websocket_through_redis(sender_user, transactional_db, snapshots):
    customers(3)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi"), "redis")
    socket = connect(broadcast.pk, sender_user)

    async def scenario(queries: CaptureQueriesContext):
        connected, _ = await socket.connect()
        assert connected
        snapshot = await socket.receive_json_from()
        assert (snapshot["status"], snapshot["pending"]) == ("queued", 3)
        at_connect = len(queries.captured_queries)
        worker = Worker("redis-worker", process_env(DJANGO_SETTINGS_MODULE="project.settings"), batch=True)
        events = [await socket.receive_json_from(timeout=60)]
        while events[-1]["status"] != "done":
            events.append(await socket.receive_json_from(timeout=60))
        code, output = worker.wait()
        assert code == 0, output
        after = len(queries.captured_queries) - at_connect
        await socket.disconnect()
        return events, after

    # The consumer's database work runs on this thread (thread-sensitive), so this sees all of it.
    with CaptureQueriesContext(connection) as queries:
        events, queries_after_connect = async_to_sync(scenario)(queries)
    assert (events[-1]["delivered"], events[-1]["pending"]) == (3, 0)
    # The worker took seconds to start and deliver; a polling consumer would have read again.
    assert snapshots == [broadcast.pk]
    assert queries_after_connect == 0


def test_receipts_and_readers_reach_a_relaying_socket(sender_user, transactional_db, snapshots):
    rita, record = person("rita", "rita@example.com")
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi"), "redis-reads")
    sent = broadcast.sents.get()
    deliver.deliver_batch(sent.pk, 0)
    # As if a gateway had taken the message and its delivery report were still to come.
    sent.recipients.update(status="sent")
    MessageSent.objects.filter(pk=sent.pk).update(delivered_count=0, sent_count=1)
    socket = connect(broadcast.pk, sender_user)

    async def scenario():
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["sent"] == 1
        await database_sync_to_async(mark_read)(sent, rita)
        page = await socket.receive_json_from(timeout=10)
        code = await database_sync_to_async(lambda: str(sent.recipients.get().code))()
        await database_sync_to_async(apply_receipts)({code: ("failed", "Bounced")})
        moved = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return page, moved

    page, moved = async_to_sync(scenario)()
    assert page == {"kind": "page"}
    assert (moved["sent"], moved["failed"]) == (0, 1)
    assert snapshots == [broadcast.pk]
