"""A formatted (Markdown) email: HTML with a plain-text alternative, delivered for real over
loopback SMTP (aiosmtpd), and a renderer that lets no markup of the author through."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.email.formatted import to_html, to_text
from sender.models import MessageAttachment
from sender.pipeline.commit import commit
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})
BODY = ("# Opening hours\n\nDear {{ first_name }},\nthe office is **closed** on *Monday*.\n\n"
        "- Tuesday: 9–13\n- Wednesday: 9–18\n\nSee [our page](https://example.com/hours?a=1&b=2).")


def alternatives(message) -> dict[str, str]:
    """{content type: text} of the multipart/alternative body of a received message."""
    body = message.get_body(preferencelist=("related", "html", "plain"))
    assert body is not None
    alternative = next(part for part in message.walk() if part.get_content_type() == "multipart/alternative")
    return {part.get_content_type(): part.get_content() for part in alternative.iter_parts()}


def test_markdown_goes_out_as_html_with_a_plain_text_alternative(sender_user, smtp_server, run_worker):
    [carla] = customers(1, first_name="Carla")
    commit(EVERYONE, sender_user, ["email"], Draft(body=BODY, subject="Hours", format="markdown"), "k")
    run_worker()
    [message] = smtp_server.messages
    assert message["To"] == carla.email and message.get_content_type() == "multipart/alternative"
    parts = alternatives(message)
    assert list(parts) == ["text/plain", "text/html"]
    html = parts["text/html"]
    assert "<h1>Opening hours</h1>" in html
    assert "Dear Carla,<br>" in html and "<strong>closed</strong>" in html and "<em>Monday</em>" in html
    assert "<ul><li>Tuesday: 9–13</li><li>Wednesday: 9–18</li></ul>" in html
    assert '<a href="https://example.com/hours?a=1&amp;b=2">our page</a>' in html
    text = parts["text/plain"].replace("\r\n", "\n")
    assert "Dear Carla,\nthe office is closed on Monday." in text
    assert "- Tuesday: 9–13" in text and "our page (https://example.com/hours?a=1&b=2)" in text
    assert "**" not in text and "<" not in text


def test_markdown_with_attachment_and_unsubscribe_link(sender_user, smtp_server, run_worker, settings):
    config = smtp_server.sender_settings()
    config["METHODS"]["email"]["OPTIONS"] = {**config["METHODS"]["email"]["OPTIONS"], "site_url": "http://testserver/"}
    settings.SENDER = config
    customers(2)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8
    attachment = MessageAttachment(name="a.pdf", content_type="application/pdf", size=len(pdf), sha256="x",
                                   uploaded_by=sender_user)
    attachment.file.save("a.pdf", ContentFile(pdf))
    commit(EVERYONE, sender_user, ["email"], Draft(body="Hello **{{ name }}**", subject="Hi", format="markdown",
                                                   attachments=[attachment]), "k")
    run_worker()
    assert len(smtp_server.messages) == 2
    for message in smtp_server.messages:
        assert message.get_content_type() == "multipart/mixed" and message["List-Unsubscribe"].startswith("<http://testserver/")
        parts = alternatives(message)
        assert "<strong>First" in parts["text/html"] and 'href="http://testserver/' in parts["text/html"]
        assert "To stop receiving these emails, open http://testserver/" in parts["text/plain"]
        [file] = list(message.iter_attachments())
        assert file.get_filename() == "a.pdf" and file.get_content() == pdf


def test_plain_email_stays_a_single_text_part(sender_user, smtp_server, run_worker):
    customers(1)
    commit(EVERYONE, sender_user, ["email"], Draft(body="Plain **as written**", subject="Hi"), "k")
    run_worker()
    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain" and "**as written**" in message.get_content()


@pytest.mark.parametrize("source, expected", [
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ('[x](javascript:alert(1))', "<p>[x](javascript:alert(1))</p>"),
    ('[x](https://e.com/"onmouseover=1)', '<p>[x](https://e.com/&quot;onmouseover=1)</p>'),
    ("**<b>bold</b>**", "<p><strong>&lt;b&gt;bold&lt;/b&gt;</strong></p>"),
    ("a_b_c and snake_case", "<p>a_b_c and snake_case</p>"),
    ("1. one\n2. two", "<ol><li>one</li><li>two</li></ol>"),
    ("[mail](mailto:a@b.it)", '<p><a href="mailto:a@b.it">mail</a></p>'),
])
def test_the_renderer_escapes_everything_but_its_own_tags(source, expected):
    assert to_html(source) == expected


def test_plain_text_keeps_the_words():
    assert to_text("## Hi\n\n*a* **b** [c](https://d.it)") == "Hi\n\na b c (https://d.it)\n"


def test_preview_shows_the_rendered_html(client, sender_user):
    [c] = customers(1, first_name="Carla")
    client.force_login(sender_user)
    response = client.post(reverse("sender:preview"), {
        "selection": '{"recipients.customer": {"ids": [%d]}}' % c.pk, "methods": ["email"], "subject": "Hi",
        "body": "Dear **{{ first_name }}** <i>x</i>", "body_format": "markdown", "idempotency_key": "k"})
    assert response.status_code == 200
    assert '<div class="example example-html" data-format="html"><p>Dear <strong>Carla</strong> &lt;i&gt;x&lt;/i&gt;</p></div>' in response.text


def test_a_scheduled_formatted_email_stays_formatted(sender_user):
    from datetime import timedelta

    from django.utils import timezone

    from sender.pipeline.scheduling import _draft, schedule

    customers(1)
    scheduled, _preview = schedule(EVERYONE, sender_user, ["email"], Draft(body="**Hi**", subject="S", format="markdown"),
                                   timezone.now() + timedelta(hours=1), "k-s")
    assert scheduled.body_format == "markdown" and _draft(scheduled).format == "markdown"


def test_editing_a_scheduled_formatted_email_on_its_page_keeps_it_formatted(client, sender_user):
    from datetime import timedelta

    from django.utils import timezone

    from sender.pipeline.scheduling import schedule

    customers(1)
    when = timezone.localtime(timezone.now() + timedelta(hours=2))
    scheduled, _preview = schedule(EVERYONE, sender_user, ["email"], Draft(body="**Hi**", subject="S", format="markdown"),
                                   when, "k-edit")
    client.force_login(sender_user)
    response = client.post(scheduled.get_absolute_url(), {
        "send_at": when.strftime("%Y-%m-%dT%H:%M"), "subject": "S", "body": "**Hello** again"})
    assert response.status_code == 302
    scheduled.refresh_from_db()
    assert (scheduled.body, scheduled.body_format) == ("**Hello** again", "markdown")
