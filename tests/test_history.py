"""History pages: the list of broadcasts, a broadcast's recipient rows (page and streamed CSV),
"retry failed", and everything one recipient was sent. Each checks who may see what
(another user's broadcast is a 404) and that its query count does not grow with the rows."""

import csv
import io
from decimal import Decimal

from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import (
    MessageRecipient,
    MessageSent,
    MessageTypology,
    MessageUserRead,
)
from sender.pipeline.commit import commit
from tests.factories import customers, subject
from tests.history_world import Status, at, backdate, grant, send, settle

HISTORY = reverse("sender:history")


def shown(response) -> list[int]:
    """Broadcast ids listed on a history page, in order."""
    return [row["broadcast"].pk for row in response.context["rows"]]


# --- history list ---------------------------------------------------------------------------

def test_history_needs_a_login(client, db):
    response = client.get(HISTORY)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_each_user_sees_only_what_they_sent(client, sender_user, perm_user):
    people = customers(2)
    mine = send(sender_user, people, subject="Mine")
    theirs = send(perm_user, people, subject="Theirs")
    client.force_login(sender_user)
    response = client.get(HISTORY)
    assert shown(response) == [mine.pk]
    assert "Theirs" not in response.text
    assert "sender" not in response.context["filterset"].form.fields  # nobody else's to pick
    client.force_login(perm_user)
    assert shown(client.get(HISTORY)) == [theirs.pk]


def test_view_all_messages_shows_everyones_and_filters_by_sender(client, sender_user, perm_user, nosend_user):
    people = customers(2)
    mine = send(sender_user, people)
    theirs = send(perm_user, people)
    viewer = grant(nosend_user, "view_all_messages")
    client.force_login(viewer)
    assert shown(client.get(HISTORY)) == [theirs.pk, mine.pk]
    assert shown(client.get(HISTORY, {"sender": sender_user.pk})) == [mine.pk]


def test_a_row_shows_methods_sender_counts_and_cost(client, sender_user):
    people = customers(3)
    broadcast = send(sender_user, people, ["email", "storage"], subject="Rates")
    settle(broadcast.sents.get(method="email"), failed={people[0].email: "550 5.1.1 No such user"},
           unit_cost=Decimal("0.05"))
    settle(broadcast.sents.get(method="storage"))
    client.force_login(sender_user)
    response = client.get(HISTORY)
    [row] = response.context["rows"]
    assert row["counts"]["delivered"] == 5 and row["counts"]["failed"] == 1
    assert row["cost"] == Decimal("0.10")
    assert {s.method for s in row["sents"]} == {"email", "storage"}
    assert "€\xa00.10" in response.text and "sally" in response.text


def test_history_filters(client, sender_user):
    people = customers(2)
    notice = MessageTypology.objects.create(name="Notice")
    old = send(sender_user, people, ["email"], subject="Old news")
    backdate(old, at(2024, 1, 10))
    typed = send(sender_user, people, ["storage"], subject="Typed", typology=notice)
    failing = send(sender_user, people, ["email"], subject="Bounced", body="Somebody was not there")
    settle(failing.sents.get(), failed={people[1].email: "550 no"})
    client.force_login(sender_user)

    def ids(**params) -> set[int]:
        response = client.get(HISTORY, params)
        assert response.status_code == 200
        return set(shown(response))

    assert ids() == {old.pk, typed.pk, failing.pk}
    assert ids(created_after="2024-01-01", created_before="2024-01-31") == {old.pk}
    assert ids(created_after="2024-02-01") == {typed.pk, failing.pk}
    assert ids(method="storage") == {typed.pk}
    assert ids(method="email") == {old.pk, failing.pk}
    assert ids(typology=notice.pk) == {typed.pk}
    assert ids(status="with_failed") == {failing.pk}
    assert ids(status="done") == {failing.pk}
    assert ids(status="queued") == {old.pk, typed.pk}
    assert ids(q="not there") == {failing.pk}
    assert ids(q="typed") == {typed.pk}


def test_a_bad_filter_is_explained_not_a_500(client, sender_user):
    send(sender_user, customers(1))
    client.force_login(sender_user)
    response = client.get(HISTORY, {"created_after": "not a date", "method": "pigeon"})
    assert response.status_code == 200
    assert shown(response) == []
    assert "Enter a valid date." in response.text
    assert "Select a valid choice" in response.text


def test_history_is_paginated(client, sender_user):
    people = customers(1)
    made = [send(sender_user, people).pk for _ in range(27)]
    client.force_login(sender_user)
    first = client.get(HISTORY)
    second = client.get(HISTORY, {"page": 2})
    assert len(shown(first)) == 25 and len(shown(second)) == 2
    assert set(shown(first)) | set(shown(second)) == set(made)
    assert 'rel="next"' in first.text


def count_queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


def test_history_queries_do_not_grow_with_broadcasts(client, sender_user):
    viewer = grant(sender_user, "view_all_messages")
    notice = MessageTypology.objects.create(name="Notice")
    people = customers(2)
    for _ in range(3):
        settle(send(viewer, people, ["email", "storage"], typology=notice).sents.first())
    client.force_login(viewer)
    client.get(HISTORY)  # warm the session and content type caches
    few = count_queries(client, HISTORY)
    for _ in range(27):
        settle(send(viewer, people, ["email", "storage"], typology=notice).sents.first())
    assert count_queries(client, HISTORY) == few
    assert count_queries(client, HISTORY, {"method": "email", "q": "Hello"}) == few


# --- broadcast detail and its rows -------------------------------------------------------------

def detail(broadcast, **params) -> str:
    url = reverse("sender:broadcast", args=[broadcast.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_detail_shows_message_counters_and_rows(client, sender_user):
    people = customers(3)
    broadcast = send(sender_user, people, ["email"], subject="Invoice", body="Please pay")
    settle(broadcast.sents.get(), failed={people[2].email: "550 5.1.1 No such user"}, unit_cost=Decimal("0.02"),
           ref="msg-77")
    client.force_login(sender_user)
    response = client.get(detail(broadcast))
    assert response.status_code == 200
    page = response.text
    assert "Please pay" in page
    assert 'data-k="delivered">2<' in page and 'data-k="failed">1<' in page
    for person in people:
        assert person.email in page
    assert "550 5.1.1 No such user" in page and "msg-77" in page
    assert response.context["row_page"].paginator.count == 3
    link = reverse("sender:recipient_history", args=["recipients.customer", people[0].pk])
    assert link in page


def test_detail_filters_rows_by_status(client, sender_user):
    people = customers(4)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[1].email: "550 no", people[3].email: "550 no"})
    client.force_login(sender_user)
    response = client.get(detail(broadcast, status="failed"))
    rows = response.context["row_page"].object_list
    assert {r.address for r in rows} == {people[1].email, people[3].email}
    assert response.context["row_page"].paginator.count == 2
    assert people[0].email not in response.text


def test_another_users_broadcast_is_404_on_every_page(client, sender_user, perm_user):
    people = customers(2)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[0].email: "550 no"})
    client.force_login(perm_user)
    assert client.get(detail(broadcast)).status_code == 404
    assert client.get(reverse("sender:broadcast_csv", args=[broadcast.pk])).status_code == 404
    assert client.post(reverse("sender:retry", args=[broadcast.pk, "email"])).status_code == 404
    assert MessageRecipient.objects.filter(status=Status.FAILED).count() == 1


def test_detail_queries_do_not_grow_with_rows(client, sender_user):
    acme = subject("Acme")
    few_people = customers(3)
    broadcast = send(sender_user, few_people, ["email", "storage"])
    client.force_login(sender_user)
    client.get(detail(broadcast))
    few = count_queries(client, detail(broadcast))

    many_people = Customer.objects.bulk_create(
        Customer(first_name="F", last_name=f"L{i}", email=f"m{i}@example.com") for i in range(30))
    big = commit(Selection.parse({"recipients.customer": {"ids": [p.pk for p in many_people]},
                                  "recipients.externalsubject": {"ids": [acme.pk]}}),
                 sender_user, ["email", "storage"], Draft(subject="s", body="b"), "big")
    client.get(detail(big))
    assert count_queries(client, detail(big)) <= few + 1  # + one query for the second recipient model
    assert len(client.get(detail(big)).context["row_page"].object_list) == 50


# --- CSV ------------------------------------------------------------------------------------------

def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_streams_every_row_with_its_outcome(client, sender_user):
    people = customers(3)
    broadcast = send(sender_user, people, ["email", "storage"])
    settle(broadcast.sents.get(method="email"), failed={people[0].email: "550 5.1.1 No such user"},
           unit_cost=Decimal("0.0125"), ref="ref-1")
    client.force_login(sender_user)
    response = client.get(reverse("sender:broadcast_csv", args=[broadcast.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"broadcast-{broadcast.pk}-recipients.csv" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 6
    by_key = {(r["method"], r["recipient id"]): r for r in rows}
    failed = by_key[("email", str(people[0].pk))]
    assert (failed["status"], failed["reason"], failed["address"]) == ("failed", "550 5.1.1 No such user",
                                                                    people[0].email)
    delivered = by_key[("email", str(people[1].pk))]
    assert (delivered["status"], delivered["cost"], delivered["gateway reference"]) == ("delivered", "0.0125", "ref-1")
    assert delivered["recipient type"] == "recipients.customer" and delivered["sent at"]
    assert failed["name"] == people[0].get_representation() == "First0 Last0"
    assert {by_key[("storage", str(p.pk))]["status"] for p in people} == {"pending"}


def test_csv_follows_the_status_filter_and_defuses_formulas(client, sender_user):
    people = customers(3)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[0].email: "=HYPERLINK(\"http://evil\")"})
    client.force_login(sender_user)
    rows = read_csv(client.get(reverse("sender:broadcast_csv", args=[broadcast.pk]), {"status": "failed"}))
    assert [(r["address"], r["reason"]) for r in rows] == [(people[0].email, "'=HYPERLINK(\"http://evil\")")]


def test_csv_reads_rows_with_a_server_side_iterator(client, sender_user, monkeypatch):
    """Rows come in chunks from `.iterator()` and leave in chunks: one query whatever the row
    count, and the response is sent piece by piece, never built whole."""
    from sender.web.views import history

    monkeypatch.setattr(history, "CSV_CHUNK", 10)
    broadcast = send(sender_user, customers(30), ["email"])
    client.force_login(sender_user)
    url = reverse("sender:broadcast_csv", args=[broadcast.pk])
    read_csv(client.get(url))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        chunks = [chunk.decode() for chunk in response.streaming_content]
    assert [chunk.count("\n") for chunk in chunks] == [11, 10, 10]  # header + 10 rows, 10, 10
    selects = [q["sql"] for q in queries if "sender_messagerecipient" in q["sql"]]
    assert len(selects) == 1


# --- retry failed -----------------------------------------------------------------------------------

def test_retry_requeues_only_the_failed_rows_of_that_method(client, sender_user,
                                                           django_capture_on_commit_callbacks):
    people = customers(4)
    broadcast = send(sender_user, people, ["email", "storage"])
    email = settle(broadcast.sents.get(method="email"), failed={people[0].email: "550 no", people[2].email: "451 later"})
    storage = broadcast.sents.get(method="storage")
    storage = settle(storage, failed={MessageRecipient.objects.get(message_sent=storage, object_id=people[1].pk).address: "gone"})
    DBTaskResult.objects.all().delete()
    client.force_login(sender_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sender:retry", args=[broadcast.pk, "email"]), {"which": "all"}, follow=True)
    assert "2 failed messages are being sent again." in response.text
    email.refresh_from_db()
    storage.refresh_from_db()
    assert (email.status, email.pending_count, email.failed_count, email.delivered_count) == ("queued", 2, 0, 2)
    assert (storage.failed_count, storage.pending_count) == (1, 0)
    assert set(MessageRecipient.objects.filter(status=Status.PENDING).values_list("address", flat=True)) == {
        people[0].email, people[2].email}
    assert DBTaskResult.objects.filter(task_path="sender.pipeline.deliver.deliver_task").count() == 1


def test_retry_pays_again_only_for_temporary_failures_unless_asked(client, sender_user, settings,
                                                                  django_capture_on_commit_callbacks):
    """A number refused for good (BLACKLISTED, no such user) would fail and cost again: the
    page shows the split, asks before spending, and by default retries what failed only after
    every automatic attempt met a temporary error."""
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], "email": {
        **settings.SENDER["METHODS"]["email"], "PRICE": "0.10"}}}
    people = customers(3)
    broadcast = send(sender_user, people, ["email"])
    email = settle(broadcast.sents.get(), failed={people[0].email: "550 5.1.1 No such user",
                                                  people[1].email: "Gave up after 5 attempts: 451 try later"})
    MessageRecipient.objects.filter(address=people[1].email).update(attempts=settings.SENDER["MAX_ATTEMPTS"])
    client.force_login(sender_user)
    page = client.get(detail(broadcast)).text
    assert "1 failed for a temporary reason (worth retrying)" in page
    assert "1 refused for good (retrying would fail and cost again)" in page
    assert 'data-confirm="Send 1 message again, for about €\xa00.10?"' in page
    assert "Retry all 2 failed, refused ones too" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sender:retry", args=[broadcast.pk, "email"]), follow=True)
    assert "1 failed message is being sent again." in response.text
    rows = dict(MessageRecipient.objects.filter(message_sent=email).values_list("address", "status"))
    assert (rows[people[0].email], rows[people[1].email]) == (Status.FAILED, Status.PENDING)
    # One more try: a row below MAX_ATTEMPTS is one a worker claims.
    assert MessageRecipient.objects.get(address=people[1].email).attempts == settings.SENDER["MAX_ATTEMPTS"] - 1

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sender:retry", args=[broadcast.pk, "email"]), {"which": "all"})
    assert MessageRecipient.objects.get(address=people[0].email).status == Status.PENDING


def test_retry_is_refused_to_staff_who_did_not_send_it_or_may_not_send(client, sender_user, nosend_user):
    people = customers(2)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[0].email: "550 no"})
    viewer = grant(nosend_user, "view_all_messages")
    client.force_login(viewer)
    page = client.get(detail(broadcast))
    assert page.status_code == 200 and "retry-form" not in page.text
    response = client.post(reverse("sender:retry", args=[broadcast.pk, "email"]), follow=True)
    assert "Only the person who sent it" in response.text
    assert MessageRecipient.objects.filter(status=Status.FAILED).count() == 1
    assert client.get(reverse("sender:retry", args=[broadcast.pk, "email"])).status_code == 405
    sender_user.groups.clear()  # the sender has lost the right to send
    client.force_login(sender_user)
    client.post(reverse("sender:retry", args=[broadcast.pk, "email"]))
    assert MessageRecipient.objects.filter(status=Status.FAILED).count() == 1
    assert client.post(reverse("sender:retry", args=[broadcast.pk, "telegram"])).status_code == 404


def test_a_cancelled_send_is_not_retried(client, sender_user):
    people = customers(2)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[0].email: "Cancelled by sally before it was sent."},
           status=MessageSent.Status.CANCELLED)
    client.force_login(sender_user)
    assert "retry-form" not in client.get(detail(broadcast)).text
    response = client.post(reverse("sender:retry", args=[broadcast.pk, "email"]), follow=True)
    assert "This send was cancelled" in response.text
    assert MessageRecipient.objects.filter(status=Status.FAILED).count() == 1


def test_the_retry_button_shows_for_the_sender_when_rows_failed(client, sender_user):
    people = customers(2)
    broadcast = send(sender_user, people, ["email"])
    settle(broadcast.sents.get(), failed={people[0].email: "550 no"})
    client.force_login(sender_user)
    page = client.get(detail(broadcast)).text
    assert reverse("sender:retry", args=[broadcast.pk, "email"]) in page and "Retry all 1 failed, refused ones too" in page


# --- per-recipient history ------------------------------------------------------------------------------

def recipient_url(obj, label: str = "recipients.customer") -> str:
    return reverse("sender:recipient_history", args=[label, obj.pk])


def test_recipient_history_lists_every_method_with_read_status(client, sender_user, outsider):
    person, other = customers(2)
    Customer.objects.filter(pk=person.pk).update(user=outsider)
    first = send(sender_user, [person, other], ["email", "storage"], subject="First")
    send(sender_user, [person], ["storage"], subject="Second")
    settle(first.sents.get(method="email"), failed={person.email: "550 no"})
    MessageUserRead.objects.create(message_sent=first.sents.get(method="storage"), user=outsider)
    client.force_login(sender_user)
    response = client.get(recipient_url(person))
    assert response.status_code == 200
    rows = list(response.context["page"].object_list)
    assert sorted((r.message_sent.broadcast.subject, r.message_sent.method) for r in rows) == [
        ("First", "email"), ("First", "storage"), ("Second", "storage")]
    reads = {(r.message_sent.broadcast.subject, r.message_sent.method): r.read_at for r in rows}
    assert reads[("First", "storage")] is not None and reads[("Second", "storage")] is None
    assert "not read" in response.text and "550 no" in response.text
    assert other.email not in response.text


def test_recipient_history_shows_only_broadcasts_the_user_may_see(client, sender_user, perm_user):
    [person] = customers(1)
    send(sender_user, [person], subject="Sally's")
    send(perm_user, [person], subject="Paul's")
    client.force_login(perm_user)
    response = client.get(recipient_url(person))
    assert [r.message_sent.broadcast.subject for r in response.context["page"].object_list] == ["Paul's"]


def test_recipient_history_refuses_unknown_and_invisible_recipients(client, sender_user, perm_user, outsider):
    [hidden] = customers(1, owner=perm_user)  # only paul's customer
    [public] = customers(1)
    client.force_login(outsider)  # not staff: may not browse recipients at all
    assert client.get(recipient_url(public)).status_code == 403
    client.force_login(sender_user)
    assert client.get(recipient_url(public)).status_code == 200
    assert client.get(recipient_url(hidden)).status_code == 404
    assert client.get(recipient_url(hidden, "auth.user")).status_code == 404
    assert client.get(reverse("sender:recipient_history", args=["recipients.customer", "999999"])).status_code == 404
    assert client.get(reverse("sender:recipient_history", args=["recipients.customer", "abc"])).status_code == 404


def test_recipient_history_works_for_any_mixin_model(client, sender_user):
    acme = subject("Acme")
    commit(Selection.parse({"recipients.externalsubject": {"ids": [acme.pk]}}), sender_user, ["email"],
           Draft(subject="To suppliers", body="b"), "acme")
    client.force_login(sender_user)
    response = client.get(recipient_url(acme, "recipients.externalsubject"))
    assert response.status_code == 200 and "To suppliers" in response.text and "acme@example.org" in response.text


def test_recipient_history_queries_do_not_grow_with_messages(client, sender_user, outsider):
    [person] = customers(1)
    Customer.objects.filter(pk=person.pk).update(user=outsider)
    for _ in range(3):
        send(sender_user, [person], ["email", "storage"])
    client.force_login(sender_user)
    client.get(recipient_url(person))
    few = count_queries(client, recipient_url(person))
    for _ in range(27):
        send(sender_user, [person], ["email", "storage"])
    assert count_queries(client, recipient_url(person)) == few
