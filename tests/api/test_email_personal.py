"""Email with placeholders and the unsubscribe link, delivered for real over loopback SMTP:
the shared parts are encoded once, the text per recipient."""

import pytest
from django.core.files.base import ContentFile

from sender.audience.models import OptOut
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.models import MessageAttachment
from sender.pipeline.commit import commit
from sender.pipeline.preview import preview
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


@pytest.fixture
def site_smtp(smtp_server, settings):
    config = smtp_server.sender_settings()
    config["METHODS"]["email"]["OPTIONS"] = {**config["METHODS"]["email"]["OPTIONS"], "site_url": "http://testserver/"}
    settings.SENDER = config
    return smtp_server


def by_recipient(server):
    return {m["To"]: m for m in server.messages}


def test_placeholders_are_filled_per_recipient_and_attachments_survive(sender_user, smtp_server, run_worker):
    cs = customers(3)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    attachment = MessageAttachment(name="a.pdf", content_type="application/pdf", size=len(pdf), sha256="x",
                                   uploaded_by=sender_user)
    attachment.file.save("a.pdf", ContentFile(pdf))
    body = "Dear {{ first_name }} {{ last_name|upper }},\n.dot line\nsee you — ciao"
    commit(EVERYONE, sender_user, ["email"], Draft(body=body, subject="Hi", attachments=[attachment]), "k")
    run_worker()
    got = by_recipient(smtp_server)
    assert len(got) == 3
    for c in cs:
        message = got[c.email]
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text == f"Dear {c.first_name} {c.last_name.upper()},\n.dot line\nsee you — ciao\n"
        [part] = list(message.iter_attachments())
        assert part.get_content() == pdf
        assert "List-Unsubscribe" not in message  # no site_url configured: no link


def test_the_shared_parts_are_encoded_once_per_broadcast(sender_user, smtp_server, run_worker, monkeypatch):
    from sender.channels.email.method import EmailMethod

    customers(5)
    calls = []
    original = EmailMethod.build
    monkeypatch.setattr(EmailMethod, "build", lambda self, b: calls.append(b.pk) or original(self, b))
    commit(EVERYONE, sender_user, ["email"], Draft(body="Hello {{ name }}", subject="Hi"), "k")
    run_worker()
    assert len(smtp_server.messages) == 5
    assert len(calls) == 1  # one MIME build for five personalized messages


def test_every_email_carries_a_working_unsubscribe_link_and_one_click_headers(sender_user, site_smtp, run_worker, client):
    cs = customers(2)
    commit(EVERYONE, sender_user, ["email"], Draft(body="News", subject="Hi"), "k")
    run_worker()
    message = by_recipient(site_smtp)[cs[0].email]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://testserver/unsubscribe/")
    text = message.get_content().replace("\r\n", "\n")
    assert text.startswith("News\n\n-- \n") and url in text
    path = url.removeprefix("http://testserver")
    assert "Unsubscribe" in client.get(path).text and not OptOut.objects.exists()  # GET only asks
    assert client.post(path).status_code == 200  # what a mail provider's one-click POST does
    assert list(OptOut.objects.values_list("method", "address", "source")) == [("email", cs[0].email, "link")]
    [email] = preview(EVERYONE, sender_user, ["email"], Draft(body="Next", subject="Hi")).methods
    assert (email.valid, email.invalid) == (1, 1)
    assert email.rejected[0].address == cs[0].email and "opted out" in email.rejected[0].reason


def test_a_tampered_unsubscribe_token_changes_nothing(client, db):
    from sender.audience.optout import unsubscribe_token

    token = unsubscribe_token("email", "a@example.com")
    response = client.post(f"/unsubscribe/{token[:-2]}xx/")
    assert response.status_code == 400 and "does not work" in response.text
    assert not OptOut.objects.exists()


def test_a_plain_message_without_site_url_is_byte_for_byte_the_old_fast_path(sender_user, db):
    customers(1)
    broadcast = commit(EVERYONE, sender_user, ["email"], Draft(body="Plain", subject="Hi"), "k")
    method = methods["email"]
    assert not method.site_url
    assert method.encoded(broadcast).endswith(b"Plain\r\n.\r\n")
