"""An SMS worker that stopped mid-chunk: the gateway order is the unit on the wire.

One HTTP request carries a whole order (up to `batch_size` numbers), and each accepted order
is journaled before the next goes. The dead worker is staged (tests/crash.py); the real worker
then takes over against the Skebby sandbox, which counts every number it receives.
"""

import pytest

from sender.channels import Outcome, methods
from sender.channels.sms.backends import Sms
from sender.channels.sms.method import order_id
from sender.channels.sms.models import GatewayOrder
from sender.models import MessageRecipient
from tests.crash import dead_worker
from tests.factories import customers
from tests.sms.conftest import time_passes
from tests.sms.test_delivery import send, settle, with_options

Status = MessageRecipient.Status
ORDER, CHUNK = 3, 9


@pytest.fixture
def chunk(sender_user, skebby, settings) -> tuple:
    """One chunk of three orders to nine numbers, committed and not sent: (sent, rows by id)."""
    with_options(settings, skebby, batch_size=ORDER)
    sms = settings.SENDER["METHODS"]["sms"]
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"],
                                                      "sms": {**sms, "CHECKPOINT_ROWS": CHUNK}}}
    assert methods["sms"].in_flight == ORDER
    customers(CHUNK)
    sent = send(sender_user, body="Ciao")
    return sent, list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))


def test_a_crash_marks_only_the_order_that_was_in_flight(chunk, skebby, run_worker):
    sent, rows = chunk
    # The dead worker held the whole chunk (three orders): the first was accepted and journaled,
    # the second was on the wire when it died, the third never left.
    dead_worker(sent, [Outcome(r.id, Status.SENT, "", "dead-worker-order-1") for r in rows[:ORDER]])

    settle(run_worker)

    # Sent now: the order that may have gone out (again) and the one that never left; not the journaled one.
    assert dict(skebby.state.received) == {r.address: 1 for r in rows[ORDER:]}
    statuses = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))
    assert statuses == [Status.SENT] * ORDER + [Status.UNKNOWN] * ORDER + [Status.SENT] * ORDER
    assert all("may have arrived twice" in r for r in MessageRecipient.objects.filter(
        message_sent=sent, status=Status.UNKNOWN).values_list("reason", flat=True))
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.unknown_count, sent.pending_count) == ("done", 2 * ORDER, ORDER, 0)


def test_an_order_recovered_from_the_journal_is_polled_for_its_delivery_report(chunk, skebby, run_worker):
    """The dead worker's first order reached Skebby and was journaled, but the worker died
    before registering it for polling (that happens once the chunk is done): the worker that
    takes over registers it, so its rows end `delivered` like the ones it sent itself."""
    sent, rows = chunk
    first = rows[:ORDER]
    with methods["sms"].backend() as backend:  # the order the dead worker really sent
        accepted = backend.send(Sms(order_id(first), "Ciao", "gsm", "GP", "", [r.address for r in first]))
    waiting = f"Accepted by the gateway (order {accepted.order_id}); waiting for the delivery report."
    dead_worker(sent, [Outcome(r.id, Status.SENT, waiting, accepted.order_id) for r in first])

    settle(run_worker)
    assert GatewayOrder.objects.filter(message_sent=sent, order_id=accepted.order_id, size=ORDER).exists()
    time_passes(200, skebby)  # Skebby's reports are in: every order is DLVRD
    run_worker()

    by_row = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("id", "status"))
    assert [by_row[r.id] for r in first] == [Status.DELIVERED] * ORDER  # the recovered order
    # ...like the orders the live worker sent (the one that was in flight too: its report ends the doubt).
    assert [by_row[r.id] for r in rows[ORDER:]] == [Status.DELIVERED] * (CHUNK - ORDER)
    assert dict(skebby.state.received) == {r.address: 1 for r in rows}  # the journaled order was not sent again
    sent.refresh_from_db()
    assert (sent.delivered_count, sent.sent_count, sent.unknown_count, sent.pending_count) == (CHUNK, 0, 0, 0)
