"""Every HTML page carries a strict Content-Security-Policy: only our own static scripts and
styles, no framing, forms posting here only. Files keep their own, stricter sandbox policy.
(The browser tests prove that the pages run under it: their fixture fails on a violation.)"""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sender.attachments import store_attachment
from tests.inbox.conftest import person
from tests.test_attachments import PDF

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],  # plus a nonce on pages that use one
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    """The header's directives, a per-request nonce left out (there is at most one)."""
    directives = (d.split() for d in response["Content-Security-Policy"].split(";") if d.strip())
    return {name: [v for v in values if not v.startswith("'nonce-")] for name, *values in directives}


@pytest.mark.parametrize("who,url", [
    (None, "login"),
    (None, "password_reset"),
    ("sender", "sender:compose"),
    ("sender", "sender:history"),
    ("recipient", "sender:inbox"),
    ("admin", "admin:index"),
    ("admin", "admin:recipients_customer_changelist"),
])
def test_every_kind_of_page_carries_the_policy(client, sender_user, who, url):
    users = {"sender": lambda: sender_user, "recipient": lambda: person("rita", "rita@example.com")[0],
             "admin": lambda: User.objects.create_superuser("ada", "ada@example.com", "pw-ada-123")}
    if who:
        client.force_login(users[who]())
    response = client.get(reverse(url))
    assert response.status_code == 200
    assert policy(response) == POLICY


def test_a_downloaded_file_keeps_its_sandbox_policy(client, sender_user):
    attachment = store_attachment(SimpleUploadedFile("report.pdf", PDF), sender_user)
    client.force_login(sender_user)
    response = client.get(reverse("sender:attachment", args=[attachment.pk]))
    assert response["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
