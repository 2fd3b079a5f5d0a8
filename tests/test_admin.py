"""The admin: every page loads; pipeline rows cannot be added or deleted; invoicing needs
its permission and records who did it; "Retry failed rows" re-sends exactly the rows that
failed."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.attachments import store_attachment
from sender.audience.models import Customer, ExternalSubject, ExternalSubjectTypology
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import (
    Broadcast,
    MessageAttachment,
    MessageRecipient,
    MessageSent,
    MessageTypology,
    MessageUserRead,
)
from sender.pipeline.commit import commit
from sender.pipeline.retry import retry_failed
from tests.factories import customers, subject
from tests.test_attachments import PDF

Status = MessageRecipient.Status


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root-123")


def send(user: User, methods: list[str], ids: list[int], **draft) -> Broadcast:
    draft.setdefault("body", "Hello")
    draft.setdefault("subject", "Greetings")
    selection = Selection.parse({"recipients.customer": {"ids": ids}})
    return commit(selection, user, methods, Draft(**draft), uuid.uuid4().hex)


@pytest.fixture
def world(sender_user, admin_user):
    """A few rows of every model the admin shows."""
    typology = MessageTypology.objects.create(name="Reminder", description="Payment reminders")
    attachment = store_attachment(SimpleUploadedFile("terms.pdf", PDF), sender_user)
    people = customers(3, city="Bologna")
    kind = ExternalSubjectTypology.objects.create(name="Supplier")
    acme = subject("Acme", typology=kind)
    broadcast = send(sender_user, ["storage"], [c.pk for c in people], subject="Invoice due",
                     attachments=[attachment])
    broadcast.typology = typology
    broadcast.save()
    sent = broadcast.sents.get()
    MessageUserRead.objects.create(message_sent=sent, user=sender_user)
    return {
        MessageTypology: typology, MessageAttachment: attachment, Broadcast: broadcast, MessageSent: sent,
        MessageRecipient: MessageRecipient.objects.filter(message_sent=sent).first(),
        MessageUserRead: MessageUserRead.objects.get(), Customer: people[0], ExternalSubject: acme,
        ExternalSubjectTypology: kind,
    }


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


ALL_MODELS = [MessageTypology, MessageAttachment, Broadcast, MessageSent, MessageRecipient, MessageUserRead,
              Customer, ExternalSubject, ExternalSubjectTypology]
TEXT_IN_LIST = {
    MessageTypology: "Reminder", MessageAttachment: "terms.pdf", Broadcast: "Invoice due", MessageSent: "Invoice due",
    MessageUserRead: "sally", Customer: "Last0", ExternalSubject: "Acme",
    ExternalSubjectTypology: "Supplier",
}


# --- pages ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_changelist_loads_and_lists_the_rows(client, admin_user, world, model):
    client.force_login(admin_user)
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    expected = world[MessageRecipient].address if model is MessageRecipient else TEXT_IN_LIST[model]
    assert expected in response.text


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_change_page_loads(client, admin_user, world, model):
    client.force_login(admin_user)
    assert client.get(admin_url(model, "change", world[model].pk)).status_code == 200


def test_a_recipient_row_page_shows_its_recipient(client, admin_user, world):
    client.force_login(admin_user)
    row = world[MessageRecipient]
    response = client.get(admin_url(MessageRecipient, "change", row.pk))
    assert Customer.objects.get(pk=row.object_id).get_representation() in response.text
    assert str(row.code) in response.text


def test_the_attachment_page_links_to_the_access_checked_download(client, admin_user, world):
    client.force_login(admin_user)
    attachment = world[MessageAttachment]
    response = client.get(admin_url(MessageAttachment, "change", attachment.pk))
    assert reverse("sender:attachment", args=[attachment.pk]) in response.text
    assert attachment.sha256 in response.text


def test_the_sent_page_links_to_its_recipient_rows(client, admin_user, world, sender_user):
    other = send(sender_user, ["storage"], [c.pk for c in customers(2)]).sents.get()
    client.force_login(admin_user)
    sent = world[MessageSent]
    response = client.get(admin_url(MessageSent, "change", sent.pk))
    link = admin_url(MessageRecipient, "changelist") + f"?message_sent__id__exact={sent.pk}"
    assert link.replace("&", "&amp;") in response.text
    listing = client.get(link)
    assert listing.status_code == 200
    shown = {row.message_sent_id for row in listing.context["cl"].result_list}
    assert shown == {sent.pk} and other.pk not in shown


@pytest.mark.parametrize("model", [Broadcast, MessageSent, MessageRecipient, MessageAttachment, MessageUserRead],
                         ids=lambda m: m.__name__)
def test_pipeline_rows_cannot_be_added_or_deleted_in_the_admin(client, admin_user, world, model):
    client.force_login(admin_user)
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.get(admin_url(model, "delete", world[model].pk)).status_code == 403


def test_broadcast_text_and_selection_are_read_only(client, admin_user, world):
    client.force_login(admin_user)
    broadcast = world[Broadcast]
    client.post(admin_url(Broadcast, "change", broadcast.pk),
                {"subject": "Changed", "body": "Changed", "selection": "{}", "typology": "",
                 "sents-TOTAL_FORMS": "1", "sents-INITIAL_FORMS": "1", "sents-MIN_NUM_FORMS": "0",
                 "sents-MAX_NUM_FORMS": "1000", "sents-0-id": broadcast.sents.get().pk,
                 "sents-0-broadcast": broadcast.pk})
    broadcast.refresh_from_db()
    assert (broadcast.subject, broadcast.body) == ("Invoice due", "Hello")
    assert broadcast.selection == {"recipients.customer": {"ids": [str(c.pk) for c in Customer.objects.all()]}}
    assert broadcast.typology is None  # the one editable field did change


def test_the_recipient_list_query_count_does_not_grow_with_rows(client, admin_user, world, sender_user):
    client.force_login(admin_user)
    url = admin_url(MessageRecipient, "changelist")
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    send(sender_user, ["storage"], [c.pk for c in customers(40)])
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url).context["cl"].result_list) == 43
    assert len(many) == len(few)


# --- invoicing ------------------------------------------------------------------------------

@pytest.fixture
def accountant(db) -> User:
    """Staff who may look at and change sent messages, but not mark them invoiced."""
    user = User.objects.create_user("anna", "anna@example.com", "pw-anna-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_messagesent", "change_messagesent"]))
    return User.objects.get(pk=user.pk)


def grant_invoicing(user: User) -> User:
    user.user_permissions.add(Permission.objects.get(codename="mark_invoiced"))
    return User.objects.get(pk=user.pk)


def offered_actions(client) -> list[str]:
    form = client.get(admin_url(MessageSent, "changelist")).context["action_form"]
    return [] if form is None else [name for name, _label in form.fields["action"].choices if name]


def post_action(client, action: str, sents, **extra) -> object:
    return client.post(admin_url(MessageSent, "changelist"),
                       {"action": action, "_selected_action": [s.pk for s in sents], **extra}, follow=True)


def test_mark_invoiced_is_refused_without_the_permission(client, accountant, world):
    accountant.user_permissions.add(Permission.objects.get(codename="send_message"))
    client.force_login(accountant)
    assert offered_actions(client) == ["retry_failed_rows", "resume_paused"]
    post_action(client, "mark_invoiced", [world[MessageSent]])
    sent = MessageSent.objects.get(pk=world[MessageSent].pk)
    assert (sent.invoiced, sent.invoiced_at, sent.invoiced_by) == (False, None, None)


def test_mark_invoiced_records_who_and_when_and_skips_invoiced_rows(client, accountant, admin_user, world,
                                                                   sender_user):
    already = send(sender_user, ["storage"], [c.pk for c in customers(1)]).sents.get()
    earlier = timezone.now() - timedelta(days=30)
    MessageSent.objects.filter(pk=already.pk).update(invoiced=True, invoiced_at=earlier, invoiced_by=admin_user)
    sending = send(sender_user, ["storage"], [c.pk for c in customers(1)]).sents.get()
    MessageSent.objects.filter(pk=world[MessageSent].pk).update(status=MessageSent.Status.DONE)
    user = grant_invoicing(accountant)
    client.force_login(user)
    before = timezone.now()
    response = post_action(client, "mark_invoiced", [world[MessageSent], already, sending])
    texts = [str(m) for m in response.context["messages"]]
    assert texts == ["1 sent message marked as invoiced.", "1 was already invoiced and was left as it was.",
                     "1 still sending was left out; invoice it when it finishes."]
    sending.refresh_from_db()
    assert not sending.invoiced
    sent = MessageSent.objects.get(pk=world[MessageSent].pk)
    assert sent.invoiced and sent.invoiced_by == user and sent.invoiced_at >= before
    already.refresh_from_db()
    assert (already.invoiced_at, already.invoiced_by) == (earlier, admin_user)


def test_the_invoiced_box_is_read_only_without_the_permission(client, accountant, world):
    client.force_login(accountant)
    sent = world[MessageSent]
    page = client.get(admin_url(MessageSent, "change", sent.pk))
    assert "invoiced" not in page.context["adminform"].form.fields
    client.post(admin_url(MessageSent, "change", sent.pk), {"invoiced": "on"})
    sent.refresh_from_db()
    assert not sent.invoiced


def test_ticking_invoiced_records_the_user_and_leaves_the_counters_alone(client, accountant, world):
    user = grant_invoicing(accountant)
    client.force_login(user)
    sent = world[MessageSent]
    page = client.get(admin_url(MessageSent, "change", sent.pk))
    assert list(page.context["adminform"].form.fields) == ["invoiced"]
    # A worker delivers while the admin has the page open.
    MessageSent.objects.filter(pk=sent.pk).update(pending_count=0, delivered_count=3, status="done")
    response = client.post(admin_url(MessageSent, "change", sent.pk), {"invoiced": "on"})
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.invoiced and sent.invoiced_by == user and sent.invoiced_at is not None
    assert (sent.pending_count, sent.delivered_count, sent.status) == (0, 3, "done")


# --- retry failed ------------------------------------------------------------------------------

def queued_batches(sent: MessageSent) -> list[int]:
    tasks = DBTaskResult.objects.filter(status="READY", task_path="sender.pipeline.deliver.deliver_task")
    return sorted(t.args_kwargs["args"][1] for t in tasks if t.args_kwargs["args"][0] == sent.pk)


def test_retry_failed_requeues_exactly_the_failed_rows(client, admin_user, sender_user, smtp_server, run_worker):
    people = customers(6)
    refused = {people[0].email, people[5].email}  # batch 0 and batch 2 with BATCH_SIZE=2
    for address in refused:
        smtp_server.handler.refuse[address] = "550 5.1.1 No such user"
    with override_settings(SENDER=smtp_server.sender_settings(BATCH_SIZE=2)):
        broadcast = send(sender_user, ["email"], [c.pk for c in people])
        run_worker()
        sent = broadcast.sents.get()
        sent.refresh_from_db()
        assert (sent.status, sent.sent_count, sent.failed_count, sent.pending_count) == ("done", 4, 2, 0)
        first_success = dict(MessageRecipient.objects.filter(status=Status.SENT).values_list("address", "sent_at"))

        client.force_login(admin_user)
        response = post_action(client, "retry_failed_rows", [sent], scope="all")  # refused ones too, as asked
        assert [str(m) for m in response.context["messages"]] == ["2 failed rows were queued again."]

        sent.refresh_from_db()
        assert (sent.status, sent.pending_count, sent.failed_count, sent.sent_count) == ("queued", 2, 0, 4)
        assert sent.finished_at is None
        retried = MessageRecipient.objects.filter(address__in=refused)
        assert {(r.status, r.reason, r.claim, r.lease_until, r.attempts) for r in retried} == {
            (Status.PENDING, "", None, None, 1)
        }
        assert queued_batches(sent) == [0, 2]  # one task per batch that has retried rows

        smtp_server.handler.refuse.clear()
        run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.sent_count, sent.failed_count, sent.pending_count) == ("done", 6, 0, 0)
    assert {r.attempts for r in MessageRecipient.objects.filter(address__in=refused)} == {2}
    untouched = MessageRecipient.objects.exclude(address__in=refused)
    assert dict(untouched.values_list("address", "sent_at")) == first_success  # delivered rows were not re-sent
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in people)  # each delivered exactly once


def test_retry_failed_does_nothing_when_nothing_failed(sender_user, run_worker):
    broadcast = send(sender_user, ["storage"], [c.pk for c in customers(2)])
    run_worker()
    sent = broadcast.sents.get()
    assert retry_failed(sent) == 0
    sent.refresh_from_db()
    assert (sent.status, sent.delivered_count, sent.pending_count) == ("done", 2, 0)
    assert queued_batches(sent) == []


def test_retry_failed_leaves_a_cancelled_send_alone(sender_user, run_worker):
    broadcast = send(sender_user, ["storage"], [c.pk for c in customers(2)])
    sent = broadcast.sents.get()
    MessageRecipient.objects.filter(message_sent=sent).update(status=Status.FAILED, reason="550 no")
    MessageSent.objects.filter(pk=sent.pk).update(status="cancelled", pending_count=0, failed_count=2)
    DBTaskResult.objects.all().delete()
    assert retry_failed(sent) == 0
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.FAILED).count() == 2
    assert queued_batches(sent) == []


def test_retry_is_not_offered_to_staff_who_may_not_send(client, accountant, world):
    client.force_login(grant_invoicing(accountant))
    assert offered_actions(client) == ["mark_invoiced"]
    MessageRecipient.objects.filter(message_sent=world[MessageSent]).update(status=Status.FAILED)
    MessageSent.objects.filter(pk=world[MessageSent].pk).update(pending_count=0, failed_count=3)
    post_action(client, "retry_failed_rows", [world[MessageSent]], scope="all")
    assert MessageRecipient.objects.filter(message_sent=world[MessageSent], status=Status.FAILED).count() == 3
