"""Accounts for recipients: staff invite a record (account created, linked, set-password link
emailed through the real SMTP server over the email method's settings); the link works once;
password reset goes the same way; account email uses Django's MAILERS, no deprecated setting."""

import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from project import settings as project_settings
from sender.audience.models import Customer
from sender.inbox.invite import InviteError, invite
from sender.inbox.mail import EmailMethodBackend
from tests.factories import customers, subject
from tests.smtp import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_mail(settings, smtp_server):
    """The project's own mailer setting (the test runner swaps in locmem), on the SMTP fixture."""
    settings.MAILERS = project_settings.MAILERS
    return smtp_server


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://testserver(/accounts/reset/\S+/)", text).group(1)


def test_the_default_mailer_shares_the_email_methods_smtp_settings(real_mail):
    backend = mail.mailers.default
    assert isinstance(backend, EmailMethodBackend)
    assert (backend.host, backend.port) == ("127.0.0.1", real_mail.port)
    assert django_settings.SENDER["METHODS"]["email"]["OPTIONS"]["port"] == real_mail.port


def test_no_deprecated_email_setting_is_left():
    assert not hasattr(project_settings, "EMAIL_BACKEND")
    result = subprocess.run(
        [sys.executable, "-W", "error::django.utils.deprecation.RemovedInDjango2028Warning",
         str(django_settings.BASE_DIR / "manage.py"), "check"],
        capture_output=True, text=True, env={"DJANGO_SETTINGS_MODULE": "project.settings", "PATH": "/usr/bin:/bin"},
        cwd=django_settings.BASE_DIR, timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_staff_invite_a_recipient_who_sets_a_password_and_reads_online(client, sender_user, real_mail):
    record = customers(1, email="Carla@Example.com", first_name="Carla", last_name="Rossi")[0]
    client.force_login(sender_user)

    response = client.post(reverse("sender:inbox_invite", args=["recipients.customer", record.pk]), follow=True)

    assert "Invitation sent to carla@example.com." in response.text
    record.refresh_from_db()
    assert record.user.username == record.user.email == "carla@example.com"
    assert real_mail.recipients() == ["carla@example.com"]
    message = real_mail.messages[0]
    assert message["Subject"] == "Read your messages online"
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL

    client.logout()
    link = link_in(message)
    form = client.get(link, follow=True)
    assert "Choose a password" in form.text and "new_password1" in form.text
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-long-Secret-42", "new_password2": "a-long-Secret-42"},
                       follow=True)
    assert "Password set" in done.text
    assert client.login(username="carla@example.com", password="a-long-Secret-42")
    assert client.get(reverse("sender:start"))["Location"] == reverse("sender:inbox")
    client.logout()
    again = client.get(link, follow=True)
    assert "This link has already been used or has expired" in again.text


def test_inviting_again_resends_the_link_to_the_same_account(sender_user, real_mail):
    record = customers(1)[0]
    first = invite(record, "https://sender.example.com")
    second = invite(record, "https://sender.example.com")
    assert first == second and User.objects.filter(email=record.email).count() == 1
    assert len(real_mail.messages) == 2
    assert "https://sender.example.com/accounts/reset/" in real_mail.messages[1].get_body(("plain",)).get_content()


def test_an_existing_account_with_that_email_is_reused(sender_user, real_mail):
    existing = User.objects.create_user("mario", "mario@example.com", "x")
    record = customers(1, email="mario@example.com")[0]
    assert invite(record, "http://testserver") == existing
    acme = subject("Acme", email="mario@example.com")  # the same person also reads for his company
    assert invite(acme, "http://testserver") == existing


def test_refusals_are_sentences_and_change_nothing(sender_user, real_mail):
    no_email = customers(1, email="")[0]
    with pytest.raises(InviteError, match="no email address"):
        invite(no_email, "http://testserver")
    staff_address = customers(1, email="sally@example.com")[0]  # Sally is staff
    with pytest.raises(InviteError, match="staff account"):
        invite(staff_address, "http://testserver")
    taken, twin = customers(2, email="twin@example.com")
    invite(taken, "http://testserver")
    with pytest.raises(InviteError, match="another customer"):
        invite(twin, "http://testserver")
    assert Customer.objects.get(pk=twin.pk).user is None
    assert not Customer.objects.filter(pk__in=[no_email.pk, staff_address.pk], user__isnull=False).exists()


def test_only_staff_who_may_send_can_invite(client, nosend_user, outsider, real_mail):
    record = customers(1)[0]
    url = reverse("sender:inbox_invite", args=["recipients.customer", record.pk])
    client.force_login(nosend_user)
    assert "You may not invite recipients" in client.post(url, follow=True).text
    client.force_login(outsider)
    assert client.post(url).status_code == 403  # not staff: refused before the record is looked up
    assert Customer.objects.get(pk=record.pk).user is None
    assert real_mail.messages == []


def test_a_record_the_staff_member_cannot_see_is_404(client, sender_user, perm_user, real_mail):
    hidden = customers(1, owner=perm_user)[0]  # Paul's customer: not visible to Sally
    client.force_login(sender_user)
    url = reverse("sender:inbox_invite", args=["recipients.customer", hidden.pk])
    assert client.post(url).status_code == 404
    assert client.post(reverse("sender:inbox_invite", args=["no.such", 1])).status_code == 404
    assert client.get(url).status_code == 405


def test_a_mail_server_that_is_down_is_reported_politely(client, settings, sender_user):
    settings.MAILERS = project_settings.MAILERS
    methods = settings.SENDER["METHODS"]
    email = {**methods["email"], "OPTIONS": {**methods["email"]["OPTIONS"], "host": "127.0.0.1", "port": free_port()}}
    settings.SENDER = {**settings.SENDER, "METHODS": {**methods, "email": email}}  # nothing listens there
    record = customers(1)[0]
    client.force_login(sender_user)
    response = client.post(reverse("sender:inbox_invite", args=["recipients.customer", record.pk]), follow=True)
    assert response.status_code == 200
    assert "the invitation could not be sent" in response.text


def test_password_reset_through_the_real_mail_server(client, rita, real_mail):
    user, _ = rita
    response = client.post(reverse("password_reset"), {"email": "RITA@example.com"}, follow=True)
    assert "Check your email" in response.text
    assert real_mail.recipients() == ["rita@example.com"]
    link = link_in(real_mail.messages[0])

    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "another-Secret-77", "new_password2": "another-Secret-77"})

    assert client.login(username="rita", password="another-Secret-77")
    assert not client.login(username="rita", password="pw-rita-123")


def test_the_login_page_offers_a_password_reset(client):
    assert reverse("password_reset") in client.get(reverse("login")).text


def test_the_admin_action_invites_the_ticked_records(client, settings, real_mail):
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    chosen = customers(2)
    client.force_login(admin_user)
    response = client.post(reverse("admin:recipients_customer_changelist"),
                           {"action": "invite_selected", "_selected_action": [c.pk for c in chosen]}, follow=True)
    assert "2 invitations sent." in response.text
    assert sorted(real_mail.recipients()) == sorted(c.email for c in chosen)
    assert Customer.objects.filter(pk__in=[c.pk for c in chosen], user__isnull=False).count() == 2
