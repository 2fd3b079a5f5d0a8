"""Admin, beyond tests/test_admin.py: the SMS bookkeeping models are listed read-only, the
sent-message list filters by sender and typology, "mark invoiced" and the report agree on
totals, and "retry failed" re-queues only failed rows of the selected messages."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.conf import sender_settings
from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.models import (
    IncomingMessage,
    MessageRecipient,
    MessageSent,
    MessageTypology,
)
from sender.web.reports import totals
from tests.factories import customers
from tests.history_world import Status, grant, send, settle


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root-123")


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def sms_rows(sender_user):
    [person] = customers(1)
    sent = send(sender_user, [person]).sents.get()
    order = GatewayOrder.objects.create(message_sent=sent, order_id="ORD-42", size=1, next_poll_at=timezone.now())
    state = GatewayState.objects.create(method="sms", money=Decimal("12.5"))
    reply = IncomingMessage.objects.create(method="sms", gateway_id="in-1", sender="+393471200000",
                                           text="Thanks, see you Monday", received_at=timezone.now(),
                                           message_sent=sent)
    return {GatewayOrder: order, GatewayState: state, IncomingMessage: reply}


@pytest.mark.parametrize("model, text", [(GatewayOrder, "ORD-42"), (GatewayState, "sms"),
                                         (IncomingMessage, "Thanks, see you Monday")],
                         ids=lambda v: getattr(v, "__name__", "text"))
def test_sms_bookkeeping_is_listed_and_read_only(client, admin_user, sms_rows, model, text):
    client.force_login(admin_user)
    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200 and text in listing.text
    assert client.get(url(model, "change", sms_rows[model].pk)).status_code == 200
    assert client.get(url(model, "add")).status_code == 403
    assert client.get(url(model, "delete", sms_rows[model].pk)).status_code == 403


def test_sent_messages_filter_by_sender_and_typology(client, admin_user, sender_user, perm_user):
    notice = MessageTypology.objects.create(name="Notice")
    people = customers(1)
    mine = send(sender_user, people, typology=notice).sents.get()
    theirs = send(perm_user, people).sents.get()
    client.force_login(admin_user)
    by_sender = client.get(url(MessageSent, "changelist"), {"broadcast__sender__id__exact": sender_user.pk})
    assert [s.pk for s in by_sender.context["cl"].result_list] == [mine.pk]
    by_typology = client.get(url(MessageSent, "changelist"), {"broadcast__typology__id__exact": notice.pk})
    assert [s.pk for s in by_typology.context["cl"].result_list] == [mine.pk]
    assert theirs.pk not in [s.pk for s in by_typology.context["cl"].result_list]


def test_the_admin_action_and_the_report_agree_on_what_is_left_to_invoice(client, sender_user):
    accountant = grant(User.objects.create_user("anna", password="x", is_staff=True),
                       "view_messagesent", "change_messagesent", "mark_invoiced", "view_all_messages")
    people = customers(4)
    a = settle(send(sender_user, people[:2], ["email"]).sents.get(), unit_cost=Decimal("0.25"))
    b = settle(send(sender_user, people, ["email"]).sents.get(), unit_cost=Decimal("0.10"))
    assert totals(MessageSent.objects.all())["uninvoiced"] == Decimal("0.90")
    client.force_login(accountant)
    client.post(url(MessageSent, "changelist"), {"action": "mark_invoiced", "_selected_action": [a.pk]})
    assert totals(MessageSent.objects.all())["uninvoiced"] == Decimal("0.40")
    client.post(url(MessageSent, "changelist"), {"action": "mark_invoiced", "_selected_action": [a.pk, b.pk]})
    after = totals(MessageSent.objects.all())
    assert (after["uninvoiced"], after["cost"]) == (Decimal(0), Decimal("0.90"))
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.invoiced_by == b.invoiced_by == accountant and a.invoiced_at < b.invoiced_at


def test_retry_action_asks_first_and_requeues_only_temporary_failures_of_the_selection(
        client, admin_user, sender_user, django_capture_on_commit_callbacks):
    people = customers(3)
    one = settle(send(sender_user, people, ["email"]).sents.get(),
                 failed={people[0].email: "421 try later", people[2].email: "550 no such user"})
    MessageRecipient.objects.filter(message_sent=one, address=people[0].email).update(
        attempts=sender_settings.MAX_ATTEMPTS)  # failed only after every automatic attempt: transient
    two = settle(send(sender_user, people, ["email"]).sents.get(), failed={people[1].email: "550 no"})
    DBTaskResult.objects.all().delete()
    client.force_login(admin_user)
    asked = client.post(url(MessageSent, "changelist"), {"action": "retry_failed_rows", "_selected_action": [one.pk]})
    assert asked.status_code == 200 and "Retry failed rows?" in asked.text
    assert "Retry the 1 temporary failure" in asked.text and "Retry all 2 failed rows, refused ones too" in asked.text
    assert [(s.pk, split.transient, split.permanent) for s, split in asked.context["rows"]] == [(one.pk, 1, 1)]
    assert MessageRecipient.objects.filter(status=Status.PENDING).count() == 0  # nothing spent by asking
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(MessageSent, "changelist"), {
            "action": "retry_failed_rows", "_selected_action": [one.pk], "scope": "transient"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 failed row was queued again."]
    assert MessageRecipient.objects.get(message_sent=one, address=people[0].email).status == Status.PENDING
    assert MessageRecipient.objects.get(message_sent=one, address=people[2].email).status == Status.FAILED
    assert MessageRecipient.objects.get(message_sent=two, address=people[1].email).status == Status.FAILED
    assert MessageRecipient.objects.filter(message_sent=one, status=Status.DELIVERED).count() == 1
    assert DBTaskResult.objects.count() == 1


def test_retry_action_can_retry_refused_rows_when_asked(client, admin_user, sender_user,
                                                        django_capture_on_commit_callbacks):
    people = customers(2)
    one = settle(send(sender_user, people, ["email"]).sents.get(), failed={people[0].email: "550 no"})
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(MessageSent, "changelist"), {
            "action": "retry_failed_rows", "_selected_action": [one.pk], "scope": "all"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 failed row was queued again."]
    assert MessageRecipient.objects.get(message_sent=one, address=people[0].email).status == Status.PENDING
