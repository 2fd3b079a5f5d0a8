"""After sending: delivery reports polled by the real worker, replies stored and linked, credits."""

import uuid
from collections import Counter
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.channels.sms.tracking import ensure_polling
from sender.models import IncomingMessage, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.signals import message_received, message_status_changed
from tests.factories import customers
from tests.sms.conftest import time_passes
from tests.sms.test_delivery import settle, with_options

Status = MessageRecipient.Status


def send(user, key=None) -> MessageSent:
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["sms"], Draft(body="Ciao"),
                  key or uuid.uuid4().hex).sents.get()


def rows(sent) -> dict[str, tuple[str, str]]:
    return {r.address: (r.status, r.reason) for r in MessageRecipient.objects.filter(message_sent=sent)}


def polls_queued() -> int:
    return DBTaskResult.objects.filter(status="READY", task_path="sender.channels.sms.tracking.poll_sms").count()


def test_polling_moves_rows_to_delivered_and_failed_and_fires_the_signal(sender_user, skebby, run_worker):
    a, b, c = customers(3)
    skebby.state.pin(b.phone, "BLACKLISTED")
    skebby.state.invalid.add(c.phone)  # the gateway skips it (allowInvalidRecipients)
    changes = []
    message_status_changed.connect(lambda **kw: changes.append(kw), weak=False, dispatch_uid="t1")
    try:
        sent = send(sender_user)
        settle(run_worker)
        assert {s for s, _r in rows(sent).values()} == {Status.SENT}
        time_passes(200, skebby)
        run_worker()
    finally:
        message_status_changed.disconnect(dispatch_uid="t1")
    assert rows(sent) == {
        a.phone: (Status.DELIVERED, ""),
        b.phone: (Status.FAILED, "The gateway reported BLACKLISTED (the number is on a blacklist)."),
        c.phone: (Status.FAILED, "The gateway reported UNKNRCPT (unknown recipient)."),
    }
    sent.refresh_from_db()
    assert (sent.sent_count, sent.delivered_count, sent.failed_count, sent.status) == (0, 1, 2, MessageSent.Status.DONE)
    # The gateway took them; the carrier said no: a rejection, not a refusal.
    assert set(MessageRecipient.objects.filter(status=Status.FAILED).values_list("reason_code", flat=True)) == {
        "rejected"}
    assert not GatewayOrder.objects.filter(open=True).exists()
    moved = Counter()
    for change in changes:
        moved[(change["old_status"], change["status"])] += len(change["row_ids"])
    assert moved == {(Status.SENT, Status.DELIVERED): 1, (Status.SENT, Status.FAILED): 2}
    assert {c["message_sent_id"] for c in changes} == {sent.pk}


def test_rows_without_a_report_in_time_stay_sent_and_say_so(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, track_hours=1)
    customers(2)
    sent = send(sender_user)
    settle(run_worker)
    time_passes(150, skebby)  # WAIT4DLVR: sent, waiting for the report
    run_worker()
    assert {s for s, _r in rows(sent).values()} == {Status.SENT}
    assert GatewayOrder.objects.filter(open=True).count() == 1
    GatewayOrder.objects.update(created_at=timezone.now() - timedelta(hours=1, minutes=1))
    time_passes(0)
    run_worker()
    # The gateway took them and nobody confirmed they arrived: still `sent`, with why it stopped there.
    assert set(rows(sent).values()) == {(Status.SENT, "No delivery report within 1 hours (last state: WAIT4DLVR).")}
    sent.refresh_from_db()
    assert (sent.sent_count, sent.delivered_count, sent.unknown_count) == (2, 0, 0)
    assert not GatewayOrder.objects.filter(open=True).exists()


def test_a_gp_row_handed_to_the_operator_stays_open_until_its_report(sender_user, skebby, run_worker):
    a, b = customers(2)
    skebby.state.pin(b.phone, "ERROR")  # the operator fails it after SENT
    sent = send(sender_user)
    settle(run_worker)
    waiting = rows(sent)[a.phone]
    time_passes(90, skebby)  # both SENT: handed to the operator, no report yet
    run_worker()
    assert rows(sent) == {a.phone: waiting, b.phone: waiting}  # still "waiting for the delivery report"
    assert GatewayOrder.objects.filter(open=True).count() == 1
    time_passes(120, skebby)
    run_worker()
    assert rows(sent) == {a.phone: (Status.DELIVERED, ""),
                          b.phone: (Status.FAILED, "The gateway reported ERROR (generic sending error).")}
    assert not GatewayOrder.objects.filter(open=True).exists()


def test_a_ti_row_ends_at_sent_for_it_has_no_delivery_report(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, message_type="TI")
    customers(1)
    sent = send(sender_user)
    settle(run_worker)
    time_passes(90, skebby)
    run_worker()
    assert set(rows(sent).values()) == {
        (Status.SENT, "The gateway reported SENT (handed to the operator; this quality has no delivery report).")}
    assert not GatewayOrder.objects.filter(open=True).exists()


def test_one_polling_task_runs_however_many_sends_and_a_dead_one_is_replaced(sender_user, skebby, run_worker):
    customers(3)
    for _ in range(3):
        send(sender_user)
    settle(run_worker)
    assert polls_queued() == 1
    assert not ensure_polling("sms")  # alive: nothing new queued
    GatewayState.objects.update(poll_due_at=timezone.now() - timedelta(hours=1))  # its task looks lost
    assert ensure_polling("sms")
    assert polls_queued() == 2
    before = skebby.calls("GET sms")
    time_passes(0)
    run_worker()  # the old task finds its token replaced and ends; the new one polls and queues one more
    assert polls_queued() == 1
    assert skebby.calls("GET sms") - before == 3  # each open order polled once in that turn


def test_the_periodic_round_restarts_tracking_that_died(sender_user, skebby, run_worker):
    customers(2)
    send(sender_user)
    settle(run_worker)
    call_command("sender_periodic", "--once", stdout=StringIO())
    assert polls_queued() == 1  # alive: the round adds nothing
    DBTaskResult.objects.filter(task_path="sender.channels.sms.tracking.poll_sms").delete()  # the chain is lost
    GatewayState.objects.update(poll_due_at=timezone.now() - timedelta(hours=1))
    call_command("sender_periodic", "--once", stdout=StringIO())
    assert polls_queued() == 1


def test_replies_are_stored_once_linked_to_their_sender_and_announced(sender_user, skebby, run_worker):
    anna, bruno = customers(2)
    Customer.objects.filter(pk=bruno.pk).update(phone="347 123 9999")
    sent = send(sender_user)
    settle(run_worker)
    skebby.state.receive(anna.phone.replace("+39", ""), "Sì, grazie!")  # written without the country code
    skebby.state.receive("+393471239999", "Chi è?")
    skebby.state.receive("+393330000000", "Wrong number")
    announced = []
    message_received.connect(lambda **kw: announced.extend(kw["messages"]), weak=False, dispatch_uid="t2")
    try:
        time_passes(0)
        run_worker()
        time_passes(0)
        run_worker()  # a second round finds nothing new
    finally:
        message_received.disconnect(dispatch_uid="t2")
    replies = {m.text: m for m in IncomingMessage.objects.all()}
    assert set(replies) == {"Sì, grazie!", "Chi è?", "Wrong number"}
    assert (replies["Sì, grazie!"].recipient, replies["Sì, grazie!"].message_sent) == (anna, sent)
    assert replies["Sì, grazie!"].sender == anna.phone
    assert replies["Chi è?"].recipient == bruno
    assert (replies["Wrong number"].recipient, replies["Wrong number"].message_sent) == (None, None)
    assert sorted(m.text for m in announced) == sorted(replies)


def test_a_reply_is_linked_to_the_latest_message_sent_to_that_number(sender_user, skebby, run_worker):
    [anna] = customers(1)
    send(sender_user)
    latest = send(sender_user)
    settle(run_worker)
    skebby.state.receive(anna.phone, "Ok")
    time_passes(0)
    run_worker()
    assert IncomingMessage.objects.get().message_sent == latest


def test_each_round_records_the_credit_left(sender_user, skebby, run_worker):
    skebby.state.credits = {"GP": 120, "TI": 7, "SI": 3}
    ensure_polling("sms")
    run_worker()
    state = GatewayState.objects.get(method="sms")
    assert state.credits == {"GP": 120, "TI": 7, "SI": 3} and state.credits_at is not None
    assert state.money == skebby.state.money and state.error == ""


def test_a_gateway_that_cannot_be_reached_leaves_the_orders_open_and_says_why(sender_user, skebby, run_worker):
    customers(1)
    send(sender_user)
    settle(run_worker)
    skebby.server.stop()
    time_passes(0)
    run_worker()
    assert GatewayOrder.objects.filter(open=True).count() == 1
    assert "Cannot connect to Skebby" in GatewayState.objects.get(method="sms").error
    assert polls_queued() == 1  # it goes on trying


def poll_queries(user, skebby, run_worker, people: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sender.channels.sms.tracking import poll_round

    MessageRecipient.objects.all().delete()
    Customer.objects.all().delete()
    GatewayOrder.objects.all().delete()
    phones = [person.phone for person in customers(people)]
    for i, phone in enumerate(phones):
        skebby.state.pin(phone, "KO" if i % 2 else "DLVRD")
    sent = send(user)
    settle(run_worker)
    for i, phone in enumerate(phones):
        skebby.state.receive(phone, f"reply {i}")
    time_passes(200, skebby)
    with CaptureQueriesContext(connection) as queries:
        poll_round("sms")
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.FAILED).count() == people // 2
    assert IncomingMessage.objects.filter(message_sent=sent).count() == people
    return len(queries)


def test_a_polling_round_costs_the_same_queries_for_10_or_80_rows_and_replies(sender_user, skebby, run_worker):
    assert poll_queries(sender_user, skebby, run_worker, 10) == poll_queries(sender_user, skebby, run_worker, 80)
