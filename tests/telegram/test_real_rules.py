"""Broadcasts meeting what the real Telegram does and the sandbox now does too: files it
re-types, photos it refuses, groups it upgrades, a 429 in the middle of a split message."""

import io

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sender.attachments import store_attachment
from sender.audience.models import Customer
from sender.channels import Draft, methods
from sender.channels.telegram.models import TelegramLink, TelegramProgress
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.preview import preview
from tests.telegram.conftest import method_settings
from tests.telegram.test_sending import EVERYONE, drain, linked_customers, send, statuses

Status = MessageRecipient.Status
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(400)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buffer, "PNG")
    return buffer.getvalue()


def test_mp3_and_mp4_attachments_arrive_as_files_and_are_uploaded_once(sender_user, sandbox, run_worker):
    linked_customers(3)
    song = store_attachment(SimpleUploadedFile("jingle.mp3", MP3), sender_user)
    clip = store_attachment(SimpleUploadedFile("tour.mp4", MP4), sender_user)
    sent = send(sender_user, attachments=[song, clip])

    run_worker()

    assert statuses(sent) == {Status.DELIVERED: 3}
    state = sandbox.state
    for chat in range(7_000_000, 7_000_003):
        assert [s["as"] for s in state.sent_to(chat)] == ["text", "document", "document"]
    assert state.uploads == 2  # the file id came back, so the other chats got them by id


def test_a_tall_screenshot_is_announced_and_sent_as_a_document_while_a_photo_stays_a_photo(
        sender_user, sandbox, run_worker):
    linked_customers(2)
    screenshot = store_attachment(SimpleUploadedFile("chat.png", png(400, 9000)), sender_user)
    photo = store_attachment(SimpleUploadedFile("map.png", png(1200, 800)), sender_user)
    draft = Draft(body="The thread, as promised.", attachments=(screenshot, photo))

    warnings = preview(EVERYONE, sender_user, ["telegram"], draft).warnings

    assert warnings == [
        "“chat.png” (400×9000 pixels) will reach Telegram as a document: photos may measure at most 10,000 "
        "pixels width plus height, with one side at most 20 times the other."]
    sent = send(sender_user, body=draft.body, attachments=[screenshot, photo])
    run_worker()

    assert statuses(sent) == {Status.DELIVERED: 2}
    assert [s["as"] for s in sandbox.state.sent_to(7_000_000)] == ["text", "document", "photo"]
    assert sandbox.state.uploads == 2 and not sandbox.state.refused


def test_a_migrated_group_gets_the_message_at_its_new_id_which_replaces_the_old(sender_user, sandbox, run_worker):
    old, new = -4_001, -1_000_000_004_001
    sandbox.state.add_group(old, "Volunteers")
    sandbox.state.migrate_group(old, new)
    group = Customer.objects.create(first_name="Volunteers", last_name="Group", telegram_chat_id=str(old))
    TelegramLink.objects.create(content_type=ContentType.objects.get_for_model(Customer), object_id=str(group.pk),
                                chat_id=old)
    sent = send(sender_user, body="Meeting on Friday.")

    run_worker()

    assert statuses(sent) == {Status.DELIVERED: 1}
    assert [s["text"] for s in sandbox.state.sent_to(new)] == ["Meeting on Friday."]
    group.refresh_from_db()
    assert group.telegram_chat_id == str(new)
    assert TelegramLink.objects.get().chat_id == new
    assert sandbox.state.refused[400] == 1

    again = send(sender_user, body="Moved to Saturday.", key="tg-2")
    run_worker()

    assert statuses(again) == {Status.DELIVERED: 1}
    assert [s["text"] for s in sandbox.state.sent_to(new)] == ["Meeting on Friday.", "Moved to Saturday."]
    assert sandbox.state.refused[400] == 1  # straight to the new id


def test_a_429_in_the_middle_of_a_split_message_sends_no_part_twice(sender_user, sandbox, run_worker, settings):
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, long_text="split", max_retries=0)
    methods.reset()
    linked_customers(1)
    body = "".join(f"Part {n}. " + "Some news. " * 270 + "\n\n" for n in (1, 2, 3))
    sandbox.state.faults.flood_after, sandbox.state.faults.flood = 1, 1  # the second part is refused once
    sent = send(sender_user, body=body)

    drain(run_worker, sent)

    assert statuses(sent) == {Status.DELIVERED: 1}
    texts = [s["text"] for s in sandbox.state.sent_to(7_000_000)]
    assert [t.split(".")[0] for t in texts] == ["Part 1", "Part 2", "Part 3"]  # each once, in order
    (refused_at, _chat), = sandbox.state.flood_times
    assert sandbox.state.sent_to(7_000_000)[1]["at"] - refused_at >= 1.0  # Telegram's wait was honoured
    row = MessageRecipient.objects.get(message_sent=sent)
    assert (row.attempts, row.gateway_ref) == (2, "7000000:3")
    assert not TelegramProgress.objects.exists()
    assert MessageSent.objects.get(pk=sent.pk).status == MessageSent.Status.DONE
