"""A failure of the whole method (the relay refusing our credentials) pauses it instead of
failing every row; once mended, staff resume it and every message arrives exactly once."""

from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from sender.api.tokens import create_token
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import pause
from sender.pipeline.pause import resume_broadcast
from tests.api.conftest import ApiClient
from tests.factories import customers
from tests.smtp import SMTPServer


class AuthSMTPServer(SMTPServer):
    """The test SMTP server, requiring a login whose password the test can change."""

    password = "mended"

    def __init__(self):
        super().__init__()
        # AUTH without TLS is only for this loopback test.
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, auth_required=True,
                                     auth_require_tls=False, authenticator=self.authenticate)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"sender" and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def relay():
    server = AuthSMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_refused_credentials_pause_the_method_and_resume_delivers_each_message_once(
        sender_user, relay, run_worker, settings):
    people = customers(30)
    wrong = relay.sender_settings(BATCH_SIZE=10)
    wrong["METHODS"]["email"]["OPTIONS"] = {**wrong["METHODS"]["email"]["OPTIONS"],
                                            "username": "sender", "password": "old-password"}
    with override_settings(SENDER=wrong):
        broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                           Draft(body="Hello", subject="Paused?"), "pause")
        run_worker()

    sent = broadcast.sents.get()
    assert sent.status == MessageSent.Status.PAUSED
    assert "refused the credentials" in sent.error
    assert (sent.pending_count, sent.failed_count, sent.sent_count) == (30, 0, 0)
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert set(rows.values_list("status", flat=True)) == {MessageRecipient.Status.PENDING}
    assert not rows.filter(claim__isnull=False).exists()
    assert relay.recipients() == []
    assert not DBTaskResult.objects.filter(status="READY").exists()  # nothing spins while paused

    mended = relay.sender_settings(BATCH_SIZE=10)
    mended["METHODS"]["email"]["OPTIONS"] = {**mended["METHODS"]["email"]["OPTIONS"],
                                             "username": "sender", "password": "mended"}
    with override_settings(SENDER=mended):
        assert resume_broadcast(broadcast, sender_user) == ["email"]
        run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.pending_count, sent.error) == (MessageSent.Status.DONE, 30, 0, "")
    assert Counter(relay.recipients()) == Counter({p.email: 1 for p in people})


def paused_broadcast(user, key="paused"):
    customers(3)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"],
                       Draft(body="Hi"), key)
    DBTaskResult.objects.all().delete()  # as if its batches had run and met the failure
    assert pause(broadcast.sents.get(), "No credit left on the account.")
    return broadcast


def test_the_page_shows_the_reason_and_its_button_resumes(client, sender_user, run_worker):
    broadcast = paused_broadcast(sender_user)
    client.force_login(sender_user)
    page = client.get(broadcast.get_absolute_url()).content.decode()
    assert "No credit left on the account." in page and "Resume sending" in page and "paused" in page

    response = client.post(f"/broadcasts/{broadcast.pk}/resume/", follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Resumed: its pending messages are queued again."]
    assert "Resume sending" not in response.content.decode()
    run_worker()
    sent = broadcast.sents.get()
    assert (sent.status, sent.delivered_count, sent.error) == (MessageSent.Status.DONE, 3, "")


def test_the_api_resumes_a_paused_broadcast_once(sender_user, run_worker):
    api = ApiClient(create_token(sender_user, "tests")[1])
    broadcast = paused_broadcast(sender_user)
    assert api.get(f"/api/v1/broadcasts/{broadcast.pk}").json()["status"] == "paused"
    response = api.post(f"/api/v1/broadcasts/{broadcast.pk}/resume")
    assert response.status_code == 200
    assert response.json()["resumed"] == ["storage"] and response.json()["broadcast"]["status"] == "queued"
    assert api.post(f"/api/v1/broadcasts/{broadcast.pk}/resume").status_code == 409
    run_worker()
    assert api.get(f"/api/v1/broadcasts/{broadcast.pk}").json()["totals"]["delivered"] == 3


def test_the_admin_action_resumes_the_selected_paused_methods(client, admin_user, sender_user, run_worker):
    broadcast = paused_broadcast(sender_user)
    client.force_login(admin_user)
    response = client.post("/admin/sender/messagesent/",
                           {"action": "resume_paused", "_selected_action": [broadcast.sents.get().pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 paused method was queued again."]
    run_worker()
    assert broadcast.sents.get().status == MessageSent.Status.DONE
