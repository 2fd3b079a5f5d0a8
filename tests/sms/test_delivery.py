"""Sending SMS end to end: commit, the real worker, the sandbox on loopback."""

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.sms.conftest import sms_settings

Status = MessageRecipient.Status


@dataclass
class Row:
    id: int
    address: str
    code: uuid.UUID
    attempts: int


def send(user, body="Ciao, il negozio è chiuso lunedì.", key=None, **draft) -> MessageSent:
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["sms"],
                       Draft(body=body, **draft), key or uuid.uuid4().hex)
    return broadcast.sents.get()


def settle(run_worker, rounds: int = 10) -> None:
    """Run the worker, letting deliver tasks that wait for their backoff become due, until none is left."""
    from django_tasks_db.models import DBTaskResult

    for _ in range(rounds):
        run_worker()
        waiting = DBTaskResult.objects.filter(status="READY", task_path="sender.pipeline.deliver.deliver_task")
        if not waiting.exists():
            return
        waiting.update(run_after=timezone.now())
    raise AssertionError("delivery did not settle")


def with_options(settings, skebby, **options) -> None:
    settings.SENDER = {**sms_settings(settings, skebby.url, **options),
                       **{k: v for k, v in settings.SENDER.items() if k != "METHODS"}}


def test_a_broadcast_goes_out_in_orders_of_many_numbers_with_cost_per_row(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, batch_size=10)
    people = customers(25)
    sent = send(sender_user, body="a" * 200)  # two segments
    settle(run_worker)
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count) == (MessageSent.Status.DONE, 25, 0)
    assert skebby.calls("POST sms") == 3 and skebby.calls("GET login") == 1
    assert skebby.state.summary()["messages"] == 25 and skebby.state.summary()["twice"] == []
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert {r.address for r in rows} == {c.phone for c in people}
    assert {(r.segments, r.cost) for r in rows} == {(2, Decimal("0.1300"))}
    assert sent.cost == Decimal("0.065") * 2 * 25
    orders = GatewayOrder.objects.filter(message_sent=sent)
    assert sorted(o.size for o in orders) == [5, 10, 10]
    assert {r.gateway_ref for r in rows} == {o.order_id for o in orders}
    assert set(skebby.state.orders) == {o.order_id for o in orders}
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,32}", o.order_id) for o in orders)  # Skebby's rule
    first = rows.first()
    assert first.reason == f"Accepted by the gateway (order {first.gateway_ref}); waiting for the delivery report."
    assert GatewayState.objects.get(method="sms").credits["GP"] == 1_000_000 - 50


def test_100000_numbers_take_at_most_100_send_calls(sender_user, skebby, db):
    skebby.state.record_requests = False
    broadcast = Broadcast.objects.create(idempotency_key="big", body="Ciao", sender=sender_user)
    sent = MessageSent.objects.create(broadcast=broadcast, method="sms")
    rows = [Row(i, f"+39347{i:07d}", uuid.uuid4(), 1) for i in range(100_000)]  # what deliver reads of a row
    outcomes = methods["sms"].deliver(sent, rows)
    assert skebby.calls("POST sms") == 100
    assert skebby.state.summary()["numbers"] == 100_000 and skebby.state.summary()["twice"] == []
    assert len(outcomes) == 100_000 and {o.status for o in outcomes} == {Status.SENT}
    assert GatewayOrder.objects.filter(message_sent=sent).count() == 100


def test_a_session_that_expires_mid_broadcast_is_renewed_and_nothing_is_lost(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, batch_size=10)
    skebby.state.faults.expire_sessions_after = 1  # every session dies after the first order
    customers(30)
    sent = send(sender_user)
    settle(run_worker)
    sent.refresh_from_db()
    assert (sent.sent_count, sent.failed_count) == (30, 0)
    assert skebby.calls("GET login") == 2
    assert skebby.calls("POST sms") == 4  # the one refused with 401 went again after the new login
    assert skebby.state.summary()["messages"] == 30 and skebby.state.summary()["twice"] == []


def test_5xx_is_retried_by_the_client_then_by_the_task_with_backoff_and_sent_once(sender_user, skebby, run_worker):
    skebby.state.faults.errors = [503, 503, 503, 502]  # the client's three tries fail, then the task's next too
    skebby.state.faults.accept_then_fail = False
    customers(4)
    sent = send(sender_user)
    run_worker()
    sent.refresh_from_db()
    assert sent.pending_count in (0, 4)  # retried later, after the backoff
    settle(run_worker)
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count) == (MessageSent.Status.DONE, 4)
    assert set(MessageRecipient.objects.filter(message_sent=sent).values_list("attempts", flat=True)) == {2}
    assert skebby.state.summary()["messages"] == 4 and skebby.state.summary()["twice"] == []


def test_a_timeout_after_the_gateway_took_the_order_does_not_send_it_twice(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, timeout=0.5)
    skebby.state.faults.delay, skebby.state.faults.slow_calls = 1.0, 1
    customers(3)
    sent = send(sender_user)
    settle(run_worker)
    sent.refresh_from_db()
    assert sent.sent_count == 3
    assert skebby.calls("POST sms") == 1 and skebby.state.summary()["twice"] == []


def test_a_gateway_that_keeps_failing_ends_the_rows_failed_with_its_words(sender_user, skebby, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "MAX_ATTEMPTS": 2}
    skebby.state.faults.errors = [500] * 20
    customers(3)
    sent = send(sender_user)
    settle(run_worker)
    sent.refresh_from_db()
    assert (sent.status, sent.failed_count) == (MessageSent.Status.DONE, 3)
    reasons = set(MessageRecipient.objects.filter(message_sent=sent).values_list("reason", flat=True))
    assert reasons == {"Gave up after 2 attempts: Skebby is busy or failing (HTTP 500): Internal error"}
    assert skebby.state.summary()["messages"] == 0


def test_a_refusal_fails_the_rows_at_once_and_tells_staff(sender_user, skebby, run_worker):
    skebby.state.credits["GP"] = 1
    customers(3)
    sent = send(sender_user)
    settle(run_worker)
    sent.refresh_from_db()
    assert sent.failed_count == 3 and skebby.calls("POST sms") == 1
    assert sent.error == "Skebby refused the request (HTTP 400): Not enough credit"
    assert set(MessageRecipient.objects.filter(message_sent=sent).values_list("reason", flat=True)) == {sent.error}


def test_the_text_sent_is_the_transliterated_one_when_asked(sender_user, skebby, run_worker):
    import json

    customers(1)
    send(sender_user, body="Çà và “bene” – á domani", transliterate=True)
    settle(run_worker)
    body = json.loads(next(r["body"] for r in skebby.state.requests if r["path"] == "sms"))
    assert (body["message"], body["encoding"]) == ('Çà và "bene" - a domani', "gsm")
    assert MessageSent.objects.get().extra["transliterate"] is True


@pytest.mark.parametrize("backend", ["console", "file", "locmem"])
def test_development_backends_deliver_without_a_gateway(sender_user, run_worker, settings, backend, tmp_path, capsys):
    from sender.channels.sms.backends import LocmemBackend

    LocmemBackend.reset()
    settings.SENDER = sms_settings(settings, "", backend=backend, file_path=str(tmp_path))
    customers(3)
    sent = send(sender_user, body="Dev")
    settle(run_worker)
    sent.refresh_from_db()
    # locmem reports DLVRD for every number once polled; console and file report nothing.
    assert (sent.sent_count, sent.delivered_count) == ((0, 3) if backend == "locmem" else (3, 0))
    if backend == "console":
        assert "SMS order" in capsys.readouterr().out
    elif backend == "file":
        assert (tmp_path / "sms.jsonl").read_text().count('"Dev"') == 1
    else:
        assert [len(o.recipients) for o in LocmemBackend.outbox] == [3]
