"""Email delivered for real: a loopback aiosmtpd server receives it and we read what arrived."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageAttachment, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.smtp import free_port

Status = MessageRecipient.Status
EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def send_email(user, key="k", **draft):
    draft.setdefault("body", "Dear customer,\n.\nA line with a leading dot follows:\n.hidden\nCiao è così")
    draft.setdefault("subject", "Notice – àccènts")
    return commit(EVERYONE, user, ["email"], Draft(**draft), key).sents.get()


def test_every_valid_address_gets_one_message_with_subject_body_and_headers(sender_user, smtp_server, run_worker):
    cs = customers(3)
    sent = send_email(sender_user)
    run_worker()
    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count) == (MessageSent.Status.DONE, 3, 0)
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in cs)
    message = smtp_server.messages[0]
    assert message["Subject"] == "Notice – àccènts"
    assert message["To"] in {c.email for c in cs}
    assert message.get_content().replace("\r\n", "\n") == "Dear customer,\n.\nA line with a leading dot follows:\n.hidden\nCiao è così\n"
    row = MessageRecipient.objects.get(address=message["To"])
    assert message["Message-ID"] == f"<{row.code}@localhost>"  # our row code finds the row from a bounce
    assert row.attempts == 1 and row.sent_at is not None


def test_attachments_arrive_as_real_mime_parts(sender_user, smtp_server, run_worker):
    customers(2)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    attachment = MessageAttachment(name="invoice.pdf", content_type="application/pdf", size=len(pdf),
                                   sha256="x", uploaded_by=sender_user)
    attachment.file.save("invoice.pdf", ContentFile(pdf))
    send_email(sender_user, attachments=[attachment])
    run_worker()
    assert len(smtp_server.messages) == 2
    for message in smtp_server.messages:
        [part] = list(message.iter_attachments())
        assert part.get_filename() == "invoice.pdf"
        assert part.get_content_type() == "application/pdf"
        assert part.get_content() == pdf


def test_one_smtp_connection_per_batch(sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**settings.SENDER, "BATCH_SIZE": 4}
    customers(10)
    send_email(sender_user)
    run_worker()
    assert len(smtp_server.messages) == 10
    assert smtp_server.handler.connections == 3  # batches of 4, 4 and 2


def test_a_refused_recipient_fails_with_the_servers_words_and_the_rest_go_on(sender_user, smtp_server, run_worker):
    cs = customers(3)
    smtp_server.handler.refuse[cs[1].email] = "550 5.1.1 No such user here"
    sent = send_email(sender_user)
    run_worker()
    sent.refresh_from_db()
    assert (sent.sent_count, sent.failed_count, sent.status) == (2, 1, MessageSent.Status.DONE)
    failed = MessageRecipient.objects.get(status=Status.FAILED)
    assert failed.address == cs[1].email
    assert failed.reason == "550 5.1.1 No such user here"
    assert sorted(smtp_server.recipients()) == sorted([cs[0].email, cs[2].email])


def test_a_temporarily_refused_recipient_is_retried_and_then_delivered(sender_user, smtp_server, run_worker, settings):
    settings.SENDER = {**smtp_server.sender_settings(), "RETRY_BACKOFF": 60}
    cs = customers(2)
    smtp_server.handler.refuse[cs[0].email] = "451 4.7.1 Greylisted, try again later"
    sent = send_email(sender_user)
    run_worker()
    row = MessageRecipient.objects.get(address=cs[0].email)
    sent.refresh_from_db()
    del smtp_server.handler.refuse[cs[0].email]
    assert (row.status, row.reason, sent.pending_count) == (Status.PENDING, "451 4.7.1 Greylisted, try again later", 1)
    assert sent.status == MessageSent.Status.SENDING
    [retry] = DBTaskResult.objects.filter(status="READY")
    assert 59 < (retry.run_after - timezone.now()).total_seconds() <= 60  # backed off, not hammering
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())  # a minute passes
    run_worker()
    row.refresh_from_db()
    sent.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    assert (sent.status, sent.sent_count) == (MessageSent.Status.DONE, 2)
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in cs)  # nobody got it twice


def test_a_server_that_is_down_leaves_rows_failed_with_the_reason_after_the_last_attempt(sender_user, run_worker, settings):
    port = free_port()  # nothing listens here
    methods = dict(settings.SENDER["METHODS"])
    methods["email"] = {**methods["email"], "OPTIONS": {**methods["email"]["OPTIONS"], "host": "127.0.0.1", "port": port}}
    settings.SENDER = {**settings.SENDER, "METHODS": methods, "MAX_ATTEMPTS": 3, "RETRY_BACKOFF": 0}
    customers(2)
    sent = send_email(sender_user)
    run_worker()  # the worker re-runs the batch until its attempts are used up
    sent.refresh_from_db()
    assert (sent.status, sent.failed_count, sent.pending_count) == (MessageSent.Status.DONE, 2, 0)
    for row in MessageRecipient.objects.all():
        assert row.attempts == 3
        assert row.reason.startswith("Gave up after 3 attempts: Cannot connect to SMTP server 127.0.0.1:")
        assert "Connection refused" in row.reason


@pytest.mark.parametrize("address", ["a@example.com", "first.last+tag@sub.example.co.uk"])
def test_normalize_keeps_valid_addresses(address, db):
    from sender.channels import methods

    assert methods["email"].normalize(f"  {address.upper()} ") == address
