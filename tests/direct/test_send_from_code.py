"""Sending from code the way the seeds' users do: `send_text(text, frm, to)`,
`send_sms(body, from_phone, [to])`, `send_mass_sms(datatuple)`, `receive(text, frm)`; every
call leaves the same ledger rows as a dashboard broadcast."""

import io
import json
from typing import ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

import sender
from sender.audience.optout import opt_out
from sender.channels.sms.backends import BaseSmsBackend, LocmemBackend, Sms
from sender.channels.sms.gateway import Accepted
from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.direct.send import system_user
from sender.exceptions import DeliveryError
from sender.models import IncomingMessage, MessageRecipient, MessageSent
from tests.factories import customers
from tests.sms.conftest import skebby, sms_settings  # noqa: F401 (skebby: the sandbox fixture)

Status = MessageRecipient.Status


@pytest.fixture
def sms_backend(settings, tmp_path, request):
    """The SMS method on one of the development backends (console, file, locmem)."""
    LocmemBackend.reset()
    settings.SENDER = {**sms_settings(settings, "", backend=request.param, file_path=str(tmp_path)),
                       "SYSTEM_USER": "robot"}
    return request.param


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["console", "file", "locmem"], indirect=True)
def test_send_text_to_a_number_records_one_row_the_gateway_took(sms_backend, tmp_path, capsys):
    row = sender.send_text("Your code is 4711", None, "347 120 0001")

    assert (row.status, row.address, row.content_type_id, row.object_id) == (Status.SENT, "+393471200001", None, "")
    assert row.gateway_ref and row.segments == 1
    sent = row.message_sent
    assert (sent.method, sent.status, sent.sent_count, sent.total) == ("sms", MessageSent.Status.DONE, 1, 1)
    assert (sent.broadcast.body, sent.broadcast.sender.username) == ("Your code is 4711", "robot")
    assert not get_user_model().objects.get(username="robot").has_usable_password()
    if sms_backend == "console":
        assert "Your code is 4711" in capsys.readouterr().out
    elif sms_backend == "file":
        order = json.loads((tmp_path / "sms.jsonl").read_text())
        assert (order["text"], order["recipients"]) == ("Your code is 4711", ["+393471200001"])
    else:
        [order] = LocmemBackend.outbox
        assert (order.text, order.recipients, order.order_id) == ("Your code is 4711", ["+393471200001"],
                                                                   row.gateway_ref)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_send_sms_gives_the_sender_id_and_one_row_per_number_in_order(sms_backend):
    rows = sender.send_sms("Meeting moved to 10:00", "Acme", ["+393471200002", "+393471200001"])

    assert [(r.address, r.status) for r in rows] == [("+393471200002", Status.SENT), ("+393471200001", Status.SENT)]
    [order] = LocmemBackend.outbox
    assert (order.sender, sorted(order.recipients)) == ("Acme", ["+393471200001", "+393471200002"])
    assert rows[0].message_sent.extra["sender"] == "Acme"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_bad_duplicate_and_opted_out_numbers_raise_unless_fail_silently(sms_backend):
    opt_out("sms", "+393471200003")
    numbers = ["+393471200001", "347 120 0001", "not a number", "+393471200003"]
    with pytest.raises(sender.NotSent) as raised:
        sender.send_sms("Hi", None, numbers)
    assert [r.status for r in raised.value.rows] == [Status.SENT, Status.DUPLICATE, Status.INVALID, Status.OPTED_OUT]
    assert isinstance(raised.value, sender.SendError)

    rows = sender.send_sms("Hi again", None, numbers, fail_silently=True)
    assert [r.status for r in rows] == [Status.SENT, Status.DUPLICATE, Status.INVALID, Status.OPTED_OUT]
    sent = rows[0].message_sent
    assert (sent.sent_count, sent.duplicate_count, sent.invalid_count, sent.opted_out_count) == (1, 1, 1, 1)
    assert [len(o.recipients) for o in LocmemBackend.outbox] == [1, 1]  # only the good number went out


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_a_message_the_method_refuses_raises_bad_message_and_writes_nothing(sms_backend):
    with pytest.raises(sender.BadMessage):
        sender.send_text("", None, "+393471200001")
    assert sender.send_text("", None, "+393471200001", fail_silently=True) is None
    assert not MessageRecipient.objects.exists()
    with pytest.raises(sender.UnknownMethod):
        sender.send_text("Hi", None, "+393471200001", method="pigeon")
    with pytest.raises(sender.BadMessage):  # only SMS takes a sender id
        sender.send_text("Hi", "boss@example.com", "a@example.com", method="email")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_a_record_is_linked_and_a_given_user_is_the_sender(sms_backend, sender_user):
    [customer] = customers(1)
    row = sender.send_text("Hello", None, customer, user=sender_user)
    assert (row.recipient, row.address, row.status) == (customer, customer.phone, Status.SENT)
    assert row.message_sent.broadcast.sender == sender_user


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_queue_true_returns_pending_rows_and_leaves_delivery_to_the_worker(sms_backend, run_worker):
    row = sender.send_text("Later", None, "+393471200001", queue=True)
    assert row.status == Status.PENDING and not LocmemBackend.outbox
    assert DBTaskResult.objects.filter(task_path="sender.pipeline.deliver.deliver_task").count() == 1
    run_worker()
    row.refresh_from_db()
    assert row.status in (Status.SENT, Status.DELIVERED) and len(LocmemBackend.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_the_same_idempotency_key_sends_once(sms_backend):
    first = sender.send_text("Once", None, "+393471200001", idempotency_key="otp-1")
    again = sender.send_text("Once", None, "+393471200001", idempotency_key="otp-1")
    assert first.pk == again.pk and len(LocmemBackend.outbox) == 1


def test_send_text_over_email_is_sent_when_the_smtp_server_accepts_it(smtp_server, transactional_db, settings):
    row = sender.send_text("Body", None, "Someone@Example.com", method="email", subject="Hello")
    assert (row.status, row.address) == (Status.SENT, "someone@example.com")
    assert smtp_server.recipients() == ["someone@example.com"]
    assert smtp_server.messages[0]["Subject"] == "Hello"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_receive_stores_an_incoming_message_linked_to_the_last_send(sms_backend):
    row = sender.send_text("Shall we meet?", None, "+393471200001")
    message = sender.receive("Yes", "+39 347 120 0001")
    assert isinstance(message, IncomingMessage)
    assert (message.method, message.sender, message.text, message.message_sent_id) == (
        "sms", "+393471200001", "Yes", row.message_sent_id)
    assert IncomingMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_receive_stop_opts_the_number_out_of_later_sends(sms_backend):
    sender.receive("STOP", "+393471200001")
    row = sender.send_text("Offer", None, "+393471200001", fail_silently=True)
    assert row.status == Status.OPTED_OUT


def test_the_names_are_importable_from_sender_lazily():
    from sender import direct

    assert (sender.send_text, sender.send_sms, sender.get_connection) == (
        direct.send_text, direct.send_sms, direct.get_connection)
    assert issubclass(sender.NotSent, sender.SendError)
    with pytest.raises(AttributeError):
        sender.nothing_of_the_kind  # noqa: B018


def test_mass_sms_of_ten_thousand_numbers_takes_ten_gateway_calls_and_few_statements(skebby, transactional_db,
                                                                                      settings):
    settings.SENDER = {**settings.SENDER, "SYSTEM_USER": "robot"}
    system_user()  # made once, outside what is counted
    numbers = [f"+3934712{i:05d}" for i in range(10_000)]
    with CaptureQueriesContext(connection) as queries:
        rows = sender.send_mass_sms([("Storm warning: stay home tonight.", None, numbers)])
    assert len(rows) == 10_000 and {r.status for r in rows} == {Status.SENT}
    assert skebby.calls("POST sms") == 10
    assert len(queries) <= 10_000 / 500 + 50, len(queries)
    sent = rows[0].message_sent
    assert (sent.sent_count, sent.total, MessageSent.objects.count()) == (10_000, 10_000, 1)


def test_a_connection_keeps_one_gateway_session_across_sends(skebby, transactional_db, settings):
    settings.SENDER = {**settings.SENDER, "SYSTEM_USER": "robot"}
    with sender.get_connection("sms") as connection_:
        for n in range(3):
            sender.send_text(f"Reminder {n}", None, f"+39347120000{n}", connection=connection_)
    assert skebby.calls("POST sms") == 3
    assert skebby.state.connections == 1  # one client, one kept-alive connection, for all three


@pytest.mark.django_db
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_get_connection_finds_a_method_by_alias_kind_or_backend_path(sms_backend):
    assert sender.get_connection().alias == "sms"
    assert sender.get_connection("email").alias == "email"
    assert sender.get_connection("sender.channels.sms.method.SmsMethod").alias == "sms"
    assert sender.get_connection(fail_silently=True).fail_silently
    with pytest.raises(sender.UnknownMethod):
        sender.get_connection("myproject.backends.Nothing")
    with pytest.raises(sender.UnknownMethod):  # a backend with settings of its own would send under no alias
        sender.get_connection("sender.channels.sms.method.SmsMethod", OPTIONS={"backend": "console"})
    with pytest.raises(sender.UnknownMethod):
        sender.receive("Hi", "a@example.com", method="email")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["console", "locmem"], indirect=True)
def test_send_text_to_one_number_costs_at_most_15_statements(sms_backend):
    sender.send_text("First", None, "+393471200009")  # the first send ever also starts the polling chain
    with CaptureQueriesContext(connection) as queries:  # BEGIN and COMMIT count too
        row = sender.send_text("Your code is 4711", None, "+393471200001")
    assert row.status == Status.SENT and row.message_sent.status == MessageSent.Status.DONE
    assert len(queries) <= 15, "\n".join(q["sql"][:120] for q in queries)


def test_send_text_into_the_skebby_sandbox_costs_at_most_15_statements(skebby, transactional_db, settings):
    settings.SENDER = {**settings.SENDER, "SYSTEM_USER": "robot"}
    sender.send_text("First", None, "+393471200009")  # the first send ever also creates the gateway's state row
    for connection_ in (None, sender.get_connection("sms")):
        with CaptureQueriesContext(connection) as queries:
            row = sender.send_text("Your code is 4711", None, "+393471200001", connection=connection_)
        assert len(queries) <= 15, "\n".join(q["sql"][:120] for q in queries)
        # the same ledger as before the statements were cut: row, counters, order to poll, credit, polling chain
        row.refresh_from_db()
        sent = row.message_sent
        assert (row.status, row.attempts, row.cost, bool(row.gateway_ref)) == (Status.SENT, 1, sent.cost, True)
        assert (sent.status, sent.sent_count, sent.pending_count, sent.total) == (MessageSent.Status.DONE, 1, 0, 1)
        assert sent.broadcast.sender.username == "robot"
        assert GatewayOrder.objects.filter(message_sent=sent, order_id=row.gateway_ref, open=True).exists()
    state = GatewayState.objects.get(method="sms")
    assert state.credits["GP"] == skebby.state.credits["GP"] and state.poll_token is not None
    assert skebby.calls("POST sms") == 3


class RecordingBackend(BaseSmsBackend):
    """A project's own SMS backend, as get_connection builds it from a dotted path."""

    supports_flash = True
    sent: ClassVar[list] = []

    def __init__(self, account: str = "", **options):
        super().__init__(**options)
        self.account = account

    def send(self, sms: Sms, retried: bool = False) -> Accepted:
        self.refuse_flash(sms)
        self.sent.append((self.account, sms))
        return Accepted(f"mine-{len(self.sent)}", len(sms.recipients))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_get_connection_by_dotted_path_builds_the_backend_with_the_keyword_arguments(sms_backend):
    RecordingBackend.sent = []
    path = f"{__name__}.RecordingBackend"
    with sender.get_connection(path, account="acme-2") as connection_:
        rows = sender.send_sms("Via my backend", "Acme", ["+393471200001", "+393471200002"], connection=connection_)
        row = sender.send_text("Again", None, "+393471200003", connection=connection_)
    [(account, order), (_account, _order)] = RecordingBackend.sent
    assert (account, order.text, sorted(order.recipients), order.sender) == (
        "acme-2", "Via my backend", ["+393471200001", "+393471200002"], "Acme")
    assert not LocmemBackend.outbox  # the configured gateway got nothing
    # the ledger is the configured SMS method's, with the gateway reference the backend gave
    assert [(r.status, r.gateway_ref, r.message_sent.method) for r in rows] == [(Status.SENT, "mine-1", "sms")] * 2
    assert (row.status, row.gateway_ref) == (Status.SENT, "mine-2")
    assert not GatewayOrder.objects.exists()  # the poller knows only the configured gateway: nothing to poll

    stream = io.StringIO()
    connection_ = sender.get_connection("sender.channels.sms.backends.ConsoleBackend", stream=stream)
    sender.send_text("To the console", None, "+393471200004", connection=connection_)
    assert "To the console" in stream.getvalue() and not LocmemBackend.outbox

    with pytest.raises(sender.BadMessage):  # the worker would send through the configured gateway instead
        sender.send_text("Later", None, "+393471200005", queue=True, connection=sender.get_connection(path))
    with pytest.raises(sender.UnknownMethod):
        sender.get_connection("sms", account="x")  # keyword arguments are for a backend given by path


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_flash_sms_go_out_as_flash_where_the_gateway_can(sms_backend):
    rows = sender.send_sms("Door code 4711", None, ["+393471200001"], flash=True)
    [order] = LocmemBackend.outbox
    assert (order.flash, rows[0].status, rows[0].message_sent.extra["flash"]) == (True, Status.SENT, True)
    [plain] = sender.send_sms("Not flash", None, ["+393471200001"])
    assert LocmemBackend.outbox[1].flash is False and "flash" not in plain.message_sent.extra


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sms_backend", ["locmem"], indirect=True)
def test_flash_sms_are_refused_where_the_gateway_cannot_and_nothing_is_written(sms_backend, settings):
    sms = settings.SENDER["METHODS"]["sms"]
    settings.SENDER = {**settings.SENDER, "METHODS": {
        **settings.SENDER["METHODS"], "sms": {**sms, "OPTIONS": {**sms["OPTIONS"], "flash": False}}}}
    with pytest.raises(sender.BadMessage, match="flash"):
        sender.send_sms("Door code 4711", None, ["+393471200001"], flash=True)
    assert sender.send_sms("Door code 4711", None, ["+393471200001"], flash=True, fail_silently=True) == []
    assert not MessageRecipient.objects.exists() and not LocmemBackend.outbox


def test_skebby_has_no_flash_sms(skebby, transactional_db, settings):
    settings.SENDER = {**settings.SENDER, "SYSTEM_USER": "robot"}
    with pytest.raises(sender.BadMessage, match="flash"):
        sender.send_sms("Door code 4711", None, ["+393471200001"], flash=True)
    assert not MessageRecipient.objects.exists()
    # and the backend itself never sends a flash order as an ordinary SMS
    with sender.get_connection("sms") as connection_, connection_.method.hold() as backend:
        with pytest.raises(DeliveryError, match="flash"):
            backend.send(Sms("0" * 32, "Door code", "gsm", "GP", "", ["+393471200001"], flash=True))
    assert skebby.calls("POST sms") == 0


def test_sender_bench_api_reports_the_figures_of_sending_from_code():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sender_bench", "--api", "--n", "2000", "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (result["mass_sent"], result["mass_gateway_calls"]) == (2000, 2)
    assert result["mass_sql"] <= result["mass_sql_target"] == 2000 // 500 + 50
    assert result["send_text_sql"] <= 15
    assert {"send_text_ms", "gateway_ms", "send_text_overhead_ms", "send_text_overhead_cpu_ms"} <= set(result)
