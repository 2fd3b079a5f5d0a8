"""Broadcasting over Telegram against the sandbox Bot API, through the real worker."""

import io
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sender.attachments import store_attachment
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.channels.telegram.models import TelegramFile, TelegramLink
from sender.exceptions import SelectionError
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.pause import resume
from tests.telegram.conftest import CHAT_INTERVAL, RATE, method_settings

Status = MessageRecipient.Status
EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


JITTER_429 = 3
"""429s a loaded machine may still provoke: the sandbox stamps each call when its thread gets
to run, so a scheduling delay bunches stamps together. Each one is honoured and nothing is
lost (asserted); the sender stays a margin below the limit so this is rare."""


def assert_limits_kept(state, rate: float) -> None:
    """Within the limit at the sandbox, and any refusal waited out before that chat was retried."""
    assert state.max_per_second() <= rate
    assert state.refused.get(429, 0) <= JITTER_429 and set(state.refused) <= {429}
    for refused_at, chat in state.flood_times:
        assert all(s["at"] - refused_at >= 1.0 for s in state.sent_to(chat) if s["at"] > refused_at)


def linked_customers(n: int, first_chat: int = 7_000_000) -> list[Customer]:
    people = Customer.objects.bulk_create(
        Customer(first_name=f"P{i}", last_name="Chat", phone=f"+3934712{i:05d}", telegram_chat_id=str(first_chat + i))
        for i in range(n)
    )
    ct = ContentType.objects.get_for_model(Customer)
    TelegramLink.objects.bulk_create(TelegramLink(content_type=ct, object_id=str(p.pk), chat_id=first_chat + i)
                                     for i, p in enumerate(people))
    return people


def send(user, body="Hello from Sender", key="tg", attachments=()):
    broadcast = commit(EVERYONE, user, ["telegram"], Draft(body=body, attachments=tuple(attachments)), key)
    return broadcast.sents.get(method="telegram")


def drain(run_worker, sent, rounds: int = 50) -> None:
    """Run the worker until the method is finished: retried batches wait out their backoff."""
    for _ in range(rounds):
        run_worker()
        sent.refresh_from_db()
        if sent.status != MessageSent.Status.SENDING and sent.status != MessageSent.Status.QUEUED:
            return
        time.sleep(0.2)


def statuses(sent) -> dict[str, int]:
    rows = MessageRecipient.objects.filter(message_sent=sent)
    return {status: rows.filter(status=status).count() for status in rows.values_list("status", flat=True).distinct()}


def test_a_broadcast_to_1000_chats_never_exceeds_the_limits(sender_user, sandbox, run_worker):
    linked_customers(1000)
    sent = send(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count, sent.pending_count) == (MessageSent.Status.DONE, 1000, 0)
    state = sandbox.state
    assert len(state.sent) == 1000
    assert len({s["chat_id"] for s in state.sent}) == 1000  # everyone once, nobody twice
    assert_limits_kept(state, RATE)
    row = MessageRecipient.objects.filter(message_sent=sent).first()
    assert row.gateway_ref == f"{row.address}:1"


def test_the_pace_holds_where_the_limit_binds(sender_user, sandbox, run_worker, settings):
    """At a low limit the sender could go faster than allowed: the limiter must hold it back."""
    sandbox.state.rate = 20
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, rate=20)
    methods.reset()
    linked_customers(70)
    sent = send(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert sent.delivered_count == 70
    assert_limits_kept(sandbox.state, 20)
    times = sorted(s["at"] for s in sandbox.state.sent)
    assert times[-1] - times[0] >= (70 - 20) / 20  # held back to the limit, not sent as fast as possible


def test_a_429_storm_is_waited_out_and_nothing_is_lost(sender_user, sandbox, run_worker, settings):
    settings.SENDER["METHODS"]["telegram"]["OPTIONS"]["max_retries"] = 1
    linked_customers(40)
    sandbox.state.faults.flood, sandbox.state.faults.retry_after = 12, 1
    sent = send(sender_user)

    drain(run_worker, sent)

    assert (sent.status, sent.delivered_count) == (MessageSent.Status.DONE, 40)
    state = sandbox.state
    assert state.refused[429] >= 12  # the storm (and nothing else but jitter, see JITTER_429)
    chats = [s["chat_id"] for s in state.sent]
    assert len(chats) == len(set(chats)) == 40  # every chat exactly once


def test_retry_after_is_honoured_before_sending_again(sender_user, sandbox, run_worker):
    linked_customers(3)
    sandbox.state.faults.flood, sandbox.state.faults.retry_after = 1, 1
    sent = send(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert sent.delivered_count == 3
    (refused_at, chat), = sandbox.state.flood_times
    (accepted,) = sandbox.state.sent_to(chat)
    assert accepted["at"] - refused_at >= 1.0  # retried only after the second Telegram asked for


def test_blocked_and_deleted_chats_fail_with_the_reason_and_are_not_tried_again(sender_user, sandbox, run_worker):
    people = linked_customers(4)
    blocked, gone = 7_000_001, 7_000_002
    sandbox.state.blocked.add(blocked)
    sandbox.state.missing.add(gone)
    sent = send(sender_user)

    run_worker()

    reasons = dict(MessageRecipient.objects.filter(message_sent=sent, status=Status.FAILED)
                   .values_list("address", "reason"))
    assert reasons == {str(blocked): "Forbidden: bot was blocked by the user",
                       str(gone): "Bad Request: chat not found"}
    assert statuses(sent) == {Status.DELIVERED: 2, Status.FAILED: 2}
    inactive = TelegramLink.objects.filter(active=False)
    assert {(link.chat_id, link.reason) for link in inactive} == {
        (blocked, "Forbidden: bot was blocked by the user"), (gone, "Bad Request: chat not found")}
    assert Customer.objects.get(pk=people[1].pk).telegram_chat_id == ""

    again = send(sender_user, key="tg-2")
    run_worker()

    assert statuses(again) == {Status.DELIVERED: 2, Status.INVALID: 2}
    assert len(sandbox.state.sent_to(blocked)) == 0 and len(sandbox.state.sent_to(gone)) == 0


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_attachments_are_uploaded_once_then_sent_by_file_id(sender_user, sandbox, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 3}
    linked_customers(7)
    photo = store_attachment(SimpleUploadedFile("map.png", _png()), sender_user)
    document = store_attachment(SimpleUploadedFile("notes.txt", b"Opening hours: 9-18\n"), sender_user)
    sent = send(sender_user, attachments=[photo, document])

    run_worker()

    sent.refresh_from_db()
    assert sent.delivered_count == 7
    state = sandbox.state
    assert state.uploads == 2  # three batches, seven chats: each file went up once
    assert_limits_kept(state, RATE)
    for chat in range(7_000_000, 7_000_007):
        assert [s["method"] for s in state.sent_to(chat)] == ["sendmessage", "sendphoto", "senddocument"]
    assert len({s["file_id"] for s in state.sent if s["method"] == "senddocument"}) == 1
    # One message per chat interval to the same chat, as Telegram asks.
    assert state.min_chat_gap() >= CHAT_INTERVAL
    assert TelegramFile.objects.count() == 2

    later = send(sender_user, key="tg-later", attachments=[document])
    run_worker()

    assert MessageSent.objects.get(pk=later.pk).delivered_count == 7
    assert state.uploads == 2  # a later broadcast reuses the file id too


def test_text_over_4096_characters_is_refused_as_the_preview_says(sender_user, sandbox):
    linked_customers(1)
    with pytest.raises(SelectionError) as refused:
        send(sender_user, body="x" * 4097)
    assert "Telegram allows at most 4096 characters; the message has 4097." in refused.value.errors


def test_text_over_4096_characters_is_split_when_configured(sender_user, sandbox, run_worker, settings):
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, long_text="split")
    methods.reset()
    linked_customers(1)
    body = ("A paragraph of news. " * 150 + "\n\n") * 3  # about 9,500 characters
    assert methods["telegram"].warnings(Draft(body=body)) == [
        "The text is longer than 4096 characters: Telegram gets it as 3 messages."]
    sent = send(sender_user, body=body)

    run_worker()

    texts = [s["text"] for s in sandbox.state.sent]
    assert MessageSent.objects.get(pk=sent.pk).delivered_count == 1
    assert len(texts) == 3 and all(len(t) <= 4096 for t in texts)
    assert "".join(texts).replace("\n", "").replace(" ", "") == body.replace("\n", "").replace(" ", "")


def test_a_wrong_token_pauses_the_method_with_telegrams_words_until_resumed(sender_user, sandbox, run_worker,
                                                                             settings):
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, token="42:not-the-token")
    methods.reset()
    linked_customers(2)
    sent = send(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.error) == (MessageSent.Status.PAUSED,
                                         "Telegram refused the bot token (check SENDER_TELEGRAM_TOKEN).")
    assert set(MessageRecipient.objects.filter(message_sent=sent).values_list("status", flat=True)) == {Status.PENDING}
    assert sandbox.state.sent == []

    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox)
    methods.reset()
    assert resume(sent, sender_user)
    drain(run_worker, sent)
    assert statuses(sent) == {Status.DELIVERED: 2} and len(sandbox.state.sent) == 2


def test_an_answer_that_never_comes_in_time_is_unknown_not_success(sender_user, sandbox, run_worker, settings):
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, timeout=0.3)
    methods.reset()
    linked_customers(2)
    sandbox.state.faults.delay = 1.0  # slower than our timeout: it may or may not have gone out
    sent = send(sender_user)

    run_worker()

    rows = list(MessageRecipient.objects.filter(message_sent=sent).values_list("status", "reason"))
    assert [status for status, _ in rows] == [Status.UNKNOWN, Status.UNKNOWN]
    assert "may or may not have arrived" in rows[0][1]
