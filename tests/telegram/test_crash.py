"""A Telegram worker that died mid-chunk, staged (tests/crash.py), then the real worker taking
over against the sandbox, which counts every message. The real SIGKILL is in
tests/scale/test_crash_telegram.py."""

from sender.channels import Outcome, methods
from sender.models import MessageRecipient
from tests.crash import dead_worker
from tests.telegram.conftest import method_settings
from tests.telegram.test_sending import linked_customers, send

Status = MessageRecipient.Status
WINDOW = 4


def test_the_chats_in_flight_are_one_window_counted_from_the_first_unanswered(
        sender_user, sandbox, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"],
                                                      "telegram": method_settings(sandbox, concurrency=WINDOW)}}
    assert methods["telegram"].in_flight == WINDOW
    linked_customers(12)
    sent = send(sender_user, key="staged-crash")
    rows = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id"))
    # Four chats at a time: the answers came for 1, 2, 4, 5 (and a refusal for 6); 3 was still
    # waiting, so with it at most three more (7, 8, 9) can have been on the wire; 10-12 never left.
    dead_worker(sent, [Outcome(rows[i].id, Status.DELIVERED, "", f"{rows[i].address}:1") for i in (0, 1, 3, 4)]
                + [Outcome(rows[5].id, Status.FAILED, "Forbidden: bot was blocked by the user")])

    run_worker()

    assert sorted(str(s["chat_id"]) for s in sandbox.state.sent) == sorted(rows[i].address for i in (2, 6, 7, 8, 9, 10, 11))
    statuses = list(MessageRecipient.objects.filter(message_sent=sent).order_by("id").values_list("status", flat=True))
    assert statuses == ["delivered", "delivered", "unknown", "delivered", "delivered", "failed",
                        "unknown", "unknown", "unknown", "delivered", "delivered", "delivered"]
    assert MessageRecipient.objects.get(pk=rows[5].pk).reason == "Forbidden: bot was blocked by the user"
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count, sent.failed_count, sent.unknown_count) == ("done", 7, 1, 4)
