"""Operations: the health endpoint, `sender_status`, `sender_periodic`, and log lines that
carry the broadcast id."""

import json
import logging
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.logs import JsonFormatter, KeyValueFormatter
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.smtp import free_port


def storage_broadcast(user, key="ops"):
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"], Draft(body="Hi"), key)


def test_health_is_ok_when_database_layer_and_queue_answer(db):
    response = Client().get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {"database", "channel_layer", "queue"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_says_which_part_is_down(db, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}}}
    response = Client().get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert (body["checks"]["channel_layer"]["ok"], body["checks"]["database"]["ok"]) == (False, True)


def test_health_counts_the_queue(sender_user):
    customers(3)
    storage_broadcast(sender_user)
    queue = Client().get("/health/").json()["checks"]["queue"]
    assert (queue["ready"], queue["running"]) == (1, 0)


def test_sender_status_shows_queue_oldest_pending_and_failures(sender_user):
    customers(4)
    storage_broadcast(sender_user)
    MessageRecipient.objects.filter(pk=MessageRecipient.objects.first().pk).update(
        claim="00000000-0000-0000-0000-000000000001", lease_until=timezone.now() - timedelta(seconds=5))
    out = StringIO()
    call_command("sender_status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert (status["queue"]["ready"], status["pending_rows"], status["expired_leases"]) == (1, 4, 1)
    assert status["oldest_pending"] is not None
    assert status["methods"]["storage"]["pending"] == 4 and status["methods"]["storage"]["active"] == 1
    text = StringIO()
    call_command("sender_status", stdout=text)
    assert "Pending rows: 4" in text.getvalue() and "sender_periodic" in text.getvalue()

    call_command("sender_periodic", "--once", stdout=StringIO())  # the stuck batch goes back to the queue
    out = StringIO()
    call_command("sender_status", "--json", stdout=out)
    assert json.loads(out.getvalue())["queue"]["ready"] == 2


def test_delivery_logs_carry_the_broadcast_id(sender_user, run_worker, caplog):
    customers(2)
    broadcast = storage_broadcast(sender_user)
    with caplog.at_level(logging.INFO, logger="sender"):
        run_worker()
    done = [r for r in caplog.records if r.getMessage().startswith("batch done")]
    assert done and done[0].broadcast == broadcast.pk and done[0].batch == 0
    line = json.loads(JsonFormatter().format(done[0]))
    assert (line["broadcast"], line["method"], line["recorded"], line["level"]) == (broadcast.pk, "storage", 2, "INFO")
    assert f"broadcast={broadcast.pk}" in KeyValueFormatter("%(message)s").format(done[0])
