"""Several addresses per recipient (RapidSMS's Connection): a recipient model whose address
path crosses a to-many relation (tests.testapp Contact: PhoneNumber and EmailAddress rows).
Each address is its own recipient row, deduplicated with everyone else's; delivery reaches
every one of them; the picker, the recipient's history and the broadcast page show them all;
the Telegram bot links such a person by any of their numbers."""

import uuid

import pytest
from django.urls import reverse

import sender
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.backends import LocmemBackend
from sender.channels.telegram.models import TelegramLink
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from sender.pipeline.preview import preview
from tests.sms.conftest import skebby, sms_settings  # noqa: F401 (skebby: the Skebby sandbox fixture)
from tests.telegram.conftest import sandbox  # noqa: F401 (the Telegram sandbox fixture)
from tests.telegram.test_bot import USER, deliver, replies
from tests.testapp.models import Contact, EmailAddress, PhoneNumber

Status = MessageRecipient.Status
EVERYONE = Selection.parse({"testapp.contact": {"filter": ""}})


def contact(name: str, phones=(), emails=()) -> Contact:
    person = Contact.objects.create(name=name)
    PhoneNumber.objects.bulk_create(PhoneNumber(contact=person, number=n) for n in phones)
    EmailAddress.objects.bulk_create(EmailAddress(contact=person, address=a) for a in emails)
    return person


@pytest.fixture
def people(request):
    """Anna: two numbers (the first one also written a second way), two mailboxes. Bruno:
    Anna's mobile and one mailbox. Carla: no number at all."""
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    anna = contact("Anna", phones=["+39 347 120 0001", "+393471200002", "347 1200001"],
                   emails=["anna@home.example", "anna@work.example"])
    bruno = contact("Bruno", phones=["+393471200002"], emails=["bruno@example.com"])
    carla = contact("Carla", emails=["carla@example.com"])
    return anna, bruno, carla


def rows(method: str) -> list[tuple]:
    return list(MessageRecipient.objects.filter(message_sent__method=method).order_by("id")
                .values_list("object_id", "address", "status"))


def test_each_address_is_its_own_row_delivered_and_deduplicated(smtp_server, skebby, people, sender_user, run_worker):
    anna, bruno, carla = (str(p.pk) for p in people)
    broadcast = commit(EVERYONE, sender_user, ["sms", "email"], Draft(subject="Hi", body="Meeting at 10."),
                       uuid.uuid4().hex)
    run_worker()

    assert rows("sms") == [
        (anna, "+393471200001", Status.SENT), (anna, "+393471200002", Status.SENT),
        (anna, "+393471200001", Status.DUPLICATE),   # the same number, written another way
        (bruno, "+393471200002", Status.DUPLICATE),  # Anna's second number: texted once
        (carla, "", Status.INVALID),                 # no number at all: one row that says so
    ]
    # Two to-many paths never multiply each other: one email row per mailbox, none duplicate.
    assert rows("email") == [
        (anna, "anna@home.example", Status.SENT), (anna, "anna@work.example", Status.SENT),
        (bruno, "bruno@example.com", Status.SENT), (carla, "carla@example.com", Status.SENT)]
    assert sorted(skebby.state.received) == ["+393471200001", "+393471200002"]
    assert all(n == 1 for n in skebby.state.received.values())
    assert sorted(smtp_server.recipients()) == ["anna@home.example", "anna@work.example", "bruno@example.com",
                                                 "carla@example.com"]
    sms = broadcast.sents.get(method="sms")
    assert (sms.sent_count, sms.duplicate_count, sms.invalid_count) == (2, 2, 1)


def test_the_preview_counts_every_address(people, sender_user):
    counts = {m.alias: (m.valid, m.duplicate, m.invalid)
              for m in preview(EVERYONE, sender_user, ["sms", "email"], Draft(subject="Hi", body="Hi")).methods}
    assert counts == {"sms": (2, 2, 1), "email": (4, 0, 0)}


def test_the_picker_shows_every_number_and_mailbox(client, people, sender_user):
    client.force_login(sender_user)
    page = client.get(reverse("sender:picker", args=["testapp.contact"])).text
    assert "Phone numbers" in page and "Email addresses" in page
    assert "+39 347 120 0001, +393471200002, 347 1200001" in page
    assert "anna@home.example, anna@work.example" in page


def test_history_pages_show_every_address(client, people, sender_user):
    anna = people[0]
    broadcast = commit(EVERYONE, sender_user, ["sms"], Draft(body="Hi"), uuid.uuid4().hex)
    client.force_login(sender_user)
    page = client.get(reverse("sender:recipient_history", args=["testapp.contact", anna.pk])).text
    for address in ("+39 347 120 0001", "+393471200002", "anna@home.example", "anna@work.example"):
        assert address in page
    assert page.count('class="address"') >= 3 + 4  # three rows sent to her, and her addresses listed
    detail = client.get(broadcast.get_absolute_url()).text
    assert "+393471200001" in detail and "+393471200002" in detail


def test_the_bot_links_a_person_by_any_of_their_numbers(sandbox, people):
    anna = people[0]
    sandbox.state.start(USER)
    sandbox.state.share_contact(USER, "393471200002")  # her second number, which Bruno has too
    assert deliver(sandbox) == [200, 200]
    anna.refresh_from_db()
    assert anna.telegram_chat_id == str(USER)
    assert {link.recipient.name for link in TelegramLink.objects.all()} == {"Anna", "Bruno"}
    assert "Anna" in replies(sandbox)[-1] and "Bruno" in replies(sandbox)[-1]


@pytest.mark.django_db
def test_one_address_asked_of_such_a_record_is_its_first(people, settings):
    anna, _bruno, carla = people
    assert (anna.get_sms, anna.get_email, carla.get_sms) == ("+39 347 120 0001", "anna@home.example", None)
    LocmemBackend.reset()
    settings.SENDER = sms_settings(settings, "", backend="locmem")
    row = sender.send_text("Hi", None, anna)
    assert (row.recipient, row.address, row.status) == (anna, "+393471200001", Status.SENT)


def test_searching_by_one_number_finds_the_person_once_and_sends_to_all_their_numbers(client, people, sender_user):
    client.force_login(sender_user)
    response = client.get(reverse("sender:picker", args=["testapp.contact"]), {"q": "1200002"})
    assert [values[0] for _pk, values, _addresses in response.context["rows"]] == ["Anna", "Bruno"]
    assert response.context["page"].paginator.count == 2
    anna, bruno = (str(p.pk) for p in people[:2])
    matching = Selection.parse({"testapp.contact": {"filter": "q=1200002"}})
    commit(matching, sender_user, ["sms"], Draft(body="Hi"), uuid.uuid4().hex)
    assert rows("sms") == [(anna, "+393471200001", Status.PENDING), (anna, "+393471200002", Status.PENDING),
                           (anna, "+393471200001", Status.DUPLICATE), (bruno, "+393471200002", Status.DUPLICATE)]
