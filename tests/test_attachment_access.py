"""The attachment download view: the file goes only to its uploader and to people who may
see a broadcast that carries it; everyone else gets 404, anonymous visitors the login page."""

import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sender.attachments import store_attachment
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageAttachment
from sender.pipeline.commit import commit
from tests.factories import customers
from tests.test_attachments import PDF

pytestmark = pytest.mark.django_db


def broadcast_with(attachment: MessageAttachment, user: User):
    cs = customers(2)
    selection = Selection.parse({"recipients.customer": {"ids": [c.pk for c in cs]}})
    draft = Draft(body="See the attached report.", subject="Report", attachments=[attachment])
    return commit(selection, user, ["storage"], draft, uuid.uuid4().hex)


@pytest.fixture
def report(perm_user) -> MessageAttachment:
    """A PDF uploaded by Paul."""
    return store_attachment(SimpleUploadedFile("report.pdf", PDF), perm_user)


def download(client, user, attachment):
    if user is not None:
        client.force_login(user)
    return client.get(reverse("sender:attachment", args=[attachment.pk]))


def test_the_uploader_can_download_it(client, perm_user, report):
    response = download(client, perm_user, report)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_sender_of_a_broadcast_carrying_it_can_download_it(client, perm_user, sender_user, report):
    broadcast_with(report, sender_user)  # Sally sends Paul's file
    response = download(client, sender_user, report)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF


def test_a_user_who_may_see_every_broadcast_can_download_it(client, perm_user, nosend_user, report):
    broadcast_with(report, perm_user)
    nosend_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    response = download(client, User.objects.get(pk=nosend_user.pk), report)
    assert response.status_code == 200


def test_another_staff_member_gets_404(client, perm_user, sender_user, report):
    broadcast_with(report, perm_user)  # Paul's own broadcast: Sally may not see it
    assert download(client, sender_user, report).status_code == 404


def test_an_outsider_is_refused(client, perm_user, outsider, report):
    broadcast_with(report, perm_user)
    assert download(client, outsider, report).status_code == 403  # a staff page: refused whatever the id


def test_an_unattached_upload_is_private_to_its_uploader(client, sender_user, report):
    assert download(client, sender_user, report).status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, report):
    response = download(client, None, report)
    url = reverse("sender:attachment", args=[report.pk])
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_a_missing_attachment_is_404(client, perm_user, report):
    client.force_login(perm_user)
    assert client.get(reverse("sender:attachment", args=[report.pk + 1000])).status_code == 404
