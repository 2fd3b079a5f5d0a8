"""An SMS worker that stopped mid-chunk: the gateway order is the unit on the wire.

One HTTP request carries a whole order (up to `batch_size` numbers), and each accepted order
is journaled before the next goes. The dead worker is staged (its claim, an expired lease,
the journal it wrote); the real worker then takes over against the Skebby sandbox, which
counts every number it receives.
"""

import uuid
from datetime import timedelta

from django.utils import timezone

from sender.channels import Outcome, methods
from sender.models import MessageRecipient
from sender.pipeline import journal
from tests.factories import customers
from tests.sms.test_delivery import send, settle, with_options

Status = MessageRecipient.Status
ORDER, CHUNK = 3, 9


def test_a_crash_marks_only_the_order_that_was_in_flight(sender_user, skebby, run_worker, settings):
    with_options(settings, skebby, batch_size=ORDER)
    sms = settings.SENDER["METHODS"]["sms"]
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"],
                                                      "sms": {**sms, "CHECKPOINT_ROWS": CHUNK}}}
    assert methods["sms"].in_flight == ORDER
    customers(CHUNK)
    sent = send(sender_user, body="Ciao")
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    # The dead worker held the whole chunk (three orders): the first was accepted and journaled,
    # the second was on the wire when it died, the third never left.
    token = uuid.uuid4()
    MessageRecipient.objects.filter(message_sent=sent).update(
        claim=token, lease_until=timezone.now() - timedelta(seconds=1), attempts=1)
    log = journal.Journal(sent.pk, 0, token)
    log.write([Outcome(r.id, Status.SENT, "", "dead-worker-order-1") for r in rows[:ORDER]])
    log.close(keep=True)

    settle(run_worker)

    # Sent now: the order that may have gone out (again) and the one that never left; not the journaled one.
    assert dict(skebby.state.received) == {r.address: 1 for r in rows[ORDER:]}
    statuses = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))
    assert statuses == [Status.SENT] * ORDER + [Status.UNKNOWN] * ORDER + [Status.SENT] * ORDER
    assert all("may have arrived twice" in r for r in MessageRecipient.objects.filter(
        message_sent=sent, status=Status.UNKNOWN).values_list("reason", flat=True))
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.unknown_count, sent.pending_count) == ("done", 2 * ORDER, ORDER, 0)
