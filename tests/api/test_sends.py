"""What the API asks for beyond a plain message, as the dashboard does: who it is billed to
(checked on preview as on send), a Markdown email, a saved audience; and what it lists back:
broadcasts without the tests sent to oneself unless asked, saved audiences. Every response is
checked against the OpenAPI document by the `api` client (conftest.py)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sender.audience.models import Audience, Customer
from sender.models import Broadcast, MessageRecipient, MessageSent
from sender.pipeline.commit import prepare
from tests.factories import customers
from tests.testapp.models import School

EVERYONE = {"recipients.customer": {"filter": ""}}
MESSAGE = {"selection": EVERYONE, "methods": ["storage"], "body": "Closed on Monday."}
MARKDOWN = "Dear {{ first_name }},\n\nthe office is **closed** on *Monday*.\n\n- Tuesday: 9–13"


def create(api, key, prepared=True, **message):
    """POST a broadcast (to everyone, unless `audience` names a saved one); with `prepared`, its
    rows are then written, as the worker's commit task does."""
    base = {k: v for k, v in MESSAGE.items() if k != "selection" or "audience" not in message}
    response = api.post("/api/v1/broadcasts", {**base, **message}, headers={"Idempotency-Key": key})
    if prepared and response.status_code in (200, 201):
        prepare(response.json()["id"])
    return response


@pytest.fixture
def acme(settings, db) -> School:
    settings.SENDER = {**settings.SENDER, "BILLEE_MODELS": ["testapp.School"]}
    return School.objects.create(name="Acme School")


# -- the billee on preview -----------------------------------------------------------------


def test_preview_checks_the_billee_as_the_send_does_and_echoes_it(api, acme):
    customers(2)
    response = api.post("/api/v1/preview", {**MESSAGE, "billee": {"model": "testapp.school", "id": acme.pk}})
    assert response.status_code == 200
    assert response.json()["billee"] == {"model": "testapp.school", "id": str(acme.pk), "name": "Acme School"}
    assert api.post("/api/v1/preview", MESSAGE).json()["billee"] is None
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("billee, status, words", [
    ({"model": "testapp.school", "id": 999999}, 422, "There is no school 999999 to bill."),
    ({"model": "auth.user", "id": 1}, 400, "“billee.model” must be one of"),
])
def test_preview_refuses_the_billee_a_send_would_refuse(api, acme, billee, status, words):
    customers(1)
    preview = api.post("/api/v1/preview", {**MESSAGE, "billee": billee})
    send = create(api, "bad-billee", billee=billee)
    assert (preview.status_code, send.status_code) == (status, status)
    assert preview.json()["errors"] == send.json()["errors"] and words in preview.json()["errors"][0]
    assert not Broadcast.objects.exists()


def test_preview_refuses_a_billee_the_user_may_not_see(api, outsider):
    customers(1)
    [hidden] = customers(1, owner=outsider, email="hidden@example.com", phone="+393471299999")
    response = api.post("/api/v1/preview", {**MESSAGE, "billee": {"model": "recipients.customer", "id": hidden.pk}})
    assert response.status_code == 422 and response.json()["errors"] != []


# -- body_format: Markdown email -----------------------------------------------------------


def test_preview_of_a_markdown_email_shows_its_html(api):
    customers(1, first_name="Carla")
    response = api.post("/api/v1/preview", {**MESSAGE, "methods": ["email"], "subject": "Hours",
                                            "body": MARKDOWN, "body_format": "markdown"})
    assert response.status_code == 200 and response.json()["body_format"] == "markdown"
    [example] = response.json()["examples"]
    assert "<strong>closed</strong>" in example["html"] and example["body"].startswith("Dear Carla,")
    plain = api.post("/api/v1/preview", {**MESSAGE, "methods": ["email"], "subject": "Hours", "body": MARKDOWN})
    assert plain.json()["body_format"] == "text" and "html" not in plain.json()["examples"][0]


@pytest.mark.parametrize("value", ["html", "Markdown", "plain", "", None, 1])
def test_an_unknown_body_format_is_a_clear_400_and_sends_nothing(api, value):
    customers(1)
    for response in (api.post("/api/v1/preview", {**MESSAGE, "body_format": value}),
                     create(api, "bad-format", body_format=value)):
        assert response.status_code == 400
        assert response.json()["errors"] == ["“body_format” must be one of: text, markdown."]
        assert response.json()["fields"] == {"body_format": ["“body_format” must be one of: text, markdown."]}
    assert not Broadcast.objects.exists()


def test_a_markdown_send_arrives_as_html_with_its_text_alternative(api, smtp_server, run_worker):
    [carla] = customers(1, first_name="Carla")
    response = create(api, "md", methods=["email"], subject="Hours", body=MARKDOWN, body_format="markdown")
    assert response.status_code == 201 and response.json()["body_format"] == "markdown"
    assert MessageSent.objects.get().extra["format"] == "markdown"  # where the dashboard's form keeps it
    run_worker()
    [message] = smtp_server.messages
    assert message["To"] == carla.email and message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert list(parts) == ["text/plain", "text/html"]
    assert "<p>Dear Carla,</p>" in parts["text/html"] and "<strong>closed</strong>" in parts["text/html"]
    assert "<ul><li>Tuesday: 9–13</li></ul>" in parts["text/html"]
    assert "the office is closed on Monday." in parts["text/plain"] and "**" not in parts["text/plain"]
    assert api.get(f"/api/v1/broadcasts/{response.json()['id']}").json()["body_format"] == "markdown"


def test_a_text_send_stays_plain_text(api, smtp_server, run_worker):
    customers(1, first_name="Carla")
    response = create(api, "txt", methods=["email"], subject="Hours", body=MARKDOWN, body_format="text")
    assert response.json()["body_format"] == "text"
    run_worker()
    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain" and "**closed**" in message.get_content()


def test_the_same_key_with_another_body_format_is_another_request(api):
    customers(1)
    assert create(api, "fmt", methods=["email"], subject="S").status_code == 201
    again = create(api, "fmt", methods=["email"], subject="S", body_format="markdown")
    assert again.status_code == 422 and "different request" in again.json()["errors"][0]


def test_a_schedule_keeps_its_body_format(api):
    from datetime import timedelta

    from django.utils import timezone

    customers(1)
    later = (timezone.now() + timedelta(days=2)).isoformat()
    response = api.post("/api/v1/schedules", {**MESSAGE, "methods": ["email"], "subject": "S", "send_at": later,
                                              "body_format": "markdown"}, headers={"Idempotency-Key": "sch"})
    assert response.status_code == 201 and response.json()["body_format"] == "markdown"
    pk = response.json()["id"]
    changed = api.patch(f"/api/v1/schedules/{pk}", {"body": "Other **text**"})
    assert changed.json()["body_format"] == "markdown"  # a PATCH leaves what it does not name
    assert api.patch(f"/api/v1/schedules/{pk}", {"body_format": "text"}).json()["body_format"] == "text"


# -- saved audiences -----------------------------------------------------------------------


@pytest.fixture
def roma(sender_user) -> Audience:
    """Sally's saved audience "Roma customers": everyone in Roma, by filter."""
    customers(2, city="Roma")
    customers(1, city="Milano", email="m@example.com", phone="+393471299999")
    return Audience.objects.create(name="Roma customers", selection={"recipients.customer": {"filter": "city=Roma"}},
                                   described={"recipients.customer": "City “Roma”"}, owner=sender_user)


def test_audiences_are_listed_and_read_as_saved(api, roma, perm_user):
    Audience.objects.create(name="Ann", selection={"recipients.customer": {"ids": ["1"]}}, owner=perm_user)
    listed = api.get("/api/v1/audiences").json()["results"]
    assert [(a["name"], a["owner"]) for a in listed] == [("Ann", "paul"), ("Roma customers", "sally")]
    one = api.get(f"/api/v1/audiences/{roma.pk}").json()
    assert one["selection"] == {"recipients.customer": {"filter": "city=Roma"}}
    assert one["described"] == {"recipients.customer": "City “Roma”"} and one["id"] == roma.pk
    assert api.get("/api/v1/audiences/999999").status_code == 404


def test_audiences_need_the_send_permission_and_cannot_be_changed(api, api_as, roma, nosend_user):
    assert api_as(nosend_user).get("/api/v1/audiences").status_code == 403
    assert api_as(nosend_user).get(f"/api/v1/audiences/{roma.pk}").status_code == 403
    for method in ("post", "patch", "delete"):
        response = getattr(api.client, method)(f"/api/v1/audiences/{roma.pk}", {"name": "Mine"},
                                               content_type="application/json", headers=api.headers)
        assert response.status_code == 405 and response["Allow"] == "GET"
    assert Audience.objects.get().name == "Roma customers"


def test_a_send_to_an_audience_is_resolved_when_it_is_sent(api, roma):
    preview = api.post("/api/v1/preview", {"audience": roma.pk, "methods": ["email"], "subject": "S", "body": "Hi"})
    assert preview.status_code == 200
    assert preview.json()["audience"] == {"id": roma.pk, "name": "Roma customers"}
    assert preview.json()["methods"][0]["valid"] == 2
    response = create(api, "aud", prepared=False, audience=roma.pk, methods=["email"], subject="S", body="Hi")
    assert response.status_code == 201 and response.json()["selection"] == roma.selection
    Customer.objects.create(first_name="Late", last_name="Comer", email="late@example.com", city="Roma")
    prepare(response.json()["id"])  # what the worker does: the audience is resolved now
    addresses = set(MessageRecipient.objects.values_list("address", flat=True))
    assert addresses == {"c0@example.com", "c1@example.com", "late@example.com"}


def test_another_owners_audience_is_used_within_what_the_sender_may_see(api_as, roma, perm_user, sender_user):
    """Every sender may use every audience; it reaches whom the sender may see, not its owner."""
    Customer.objects.create(first_name="Only", last_name="Sally", email="own@example.com", city="Roma",
                            owner=sender_user)
    paul = api_as(perm_user)
    response = create(paul, "paul-aud", audience=roma.pk, methods=["email"], subject="S", body="Hi")
    assert response.status_code == 201
    assert response.json()["sender"] == "paul"
    addresses = set(MessageRecipient.objects.values_list("address", flat=True))
    assert addresses == {"c0@example.com", "c1@example.com"}  # sally's own customer stays out

    ids = Audience.objects.create(name="Sally's own", owner=sender_user, selection={
        "recipients.customer": {"ids": [str(Customer.objects.get(owner=sender_user).pk)]}})
    refused = paul.post("/api/v1/preview", {"audience": ids.pk, "methods": ["email"], "subject": "S", "body": "Hi"})
    assert refused.status_code == 422 and "not visible to you" in refused.json()["errors"][0]


@pytest.mark.parametrize("message, status, words", [
    ({"audience": 999999}, 422, "There is no saved audience 999999."),
    ({"audience": 1, "selection": EVERYONE}, 400, "Give exactly one of “selection” or “audience”."),
    ({}, 400, "Give exactly one of “selection” or “audience”."),
])
def test_an_audience_that_is_not_one_is_refused(api, roma, message, status, words):
    body = {"methods": ["storage"], "body": "Hi", **message}
    for response in (api.post("/api/v1/preview", body),
                     api.post("/api/v1/broadcasts", body, headers={"Idempotency-Key": "no-aud"})):
        assert response.status_code == status and words in response.json()["errors"]
    assert not Broadcast.objects.exists()


# -- the broadcast list --------------------------------------------------------------------


@pytest.fixture
def sent_and_tested(api, sender_user, smtp_server, client):
    """Two broadcasts through the API, then a test to herself from the compose page."""
    customers(2)
    first = create(api, "one", methods=["email"], subject="One").json()["id"]
    second = create(api, "two", methods=["email"], subject="Two").json()["id"]
    client.force_login(sender_user)
    response = client.post(reverse("sender:send_test"), {"methods": ["email"], "subject": "Test",
                                                         "body": "Try me", "idempotency_key": "t"})
    assert response.status_code == 200 and "Sent to sally@example.com." in response.text
    test = Broadcast.objects.get(origin=Broadcast.Origin.TEST).pk
    return first, second, test


def test_the_list_leaves_out_tests_sent_to_oneself_as_history_does(api, sent_and_tested, sender_user, client):
    first, second, test = sent_and_tested
    listed = api.get("/api/v1/broadcasts").json()
    assert [b["id"] for b in listed["results"]] == [second, first] and listed["next"] is None
    assert {b["origin"] for b in listed["results"]} == {"broadcast"}
    tests = api.get("/api/v1/broadcasts", data={"origin": "test"}).json()["results"]
    assert [(b["id"], b["subject"], b["origin"]) for b in tests] == [(test, "Test", "test")]
    assert api.get(f"/api/v1/broadcasts/{test}").status_code == 200  # still there by its id
    client.force_login(sender_user)
    history = client.get(reverse("sender:history")).context["rows"]
    assert [row["broadcast"].pk for row in history] == [second, first]  # the dashboard agrees


def test_the_list_comes_a_page_at_a_time_and_only_with_visible_broadcasts(api, api_as, sent_and_tested, perm_user):
    first, second, _test = sent_and_tested
    seen, url = [], "/api/v1/broadcasts?limit=1"
    while url:
        page = api.get(url.removeprefix("http://testserver")).json()
        seen += [b["id"] for b in page["results"]]
        url = page["next"]
    assert seen == [second, first]
    assert api_as(perm_user).get("/api/v1/broadcasts").json() == {"results": [], "next": None}
    perm_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    everyone = api_as(User.objects.get(pk=perm_user.pk)).get("/api/v1/broadcasts").json()["results"]
    assert [b["id"] for b in everyone] == [second, first]


@pytest.mark.parametrize("query, words", [
    ({"origin": "nope"}, "“origin” must be one of: broadcast, chat, test."),
    ({"limit": 0}, "“limit” is out of range."),
    ({"limit": 501}, "“limit” is out of range."),
    ({"before": "x"}, "“before” must be a whole number."),
    ({"orign": "test"}, "Unknown query parameters: orign."),  # a typo is not the unfiltered list
])
def test_the_list_refuses_a_query_it_does_not_document(api, query, words):
    response = api.get("/api/v1/broadcasts", data=query)
    assert response.status_code == 400 and response.json()["errors"] == [words]


def test_the_list_costs_the_same_queries_for_few_or_many_broadcasts(api, acme):
    customers(1)
    for n in range(6):
        create(api, f"q{n}", billee={"model": "testapp.school", "id": acme.pk} if n % 2 else None)

    def queries(limit):
        with CaptureQueriesContext(connection) as captured:
            results = api.get("/api/v1/broadcasts", data={"limit": limit}).json()["results"]
        assert len(results) == limit and results[0]["billee"]["name"] == "Acme School"
        return len(captured)

    assert queries(1) == queries(6)


# -- cancel and resume: the person who sent it ---------------------------------------------


def test_only_the_sender_or_a_superuser_resumes_a_paused_broadcast(api, api_as, perm_user, admin_user):
    customers(1)
    pk = create(api, "pause").json()["id"]
    perm_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    viewer = api_as(User.objects.get(pk=perm_user.pk))
    assert api.post(f"/api/v1/broadcasts/{pk}/resume").status_code == 409  # nothing paused yet
    # What a failure of the whole method (bad credentials, no credit) leaves behind:
    MessageSent.objects.filter(broadcast_id=pk).update(status=MessageSent.Status.PAUSED)
    refused = viewer.post(f"/api/v1/broadcasts/{pk}/resume")
    assert refused.status_code == 403
    assert refused.json()["errors"] == ["Only the person who sent it can resume this broadcast."]
    assert MessageSent.objects.get(broadcast_id=pk).status == MessageSent.Status.PAUSED
    resumed = api_as(admin_user).post(f"/api/v1/broadcasts/{pk}/resume")
    assert resumed.status_code == 200 and resumed.json()["resumed"] == ["storage"]


def test_the_new_refusals_speak_italian_when_asked(api, roma):
    italian = {"Accept-Language": "it"}
    missing = api.post("/api/v1/preview", {"audience": 999999, "methods": ["storage"], "body": "Ciao"}, headers=italian)
    assert missing.json()["errors"] == ["Non esiste un pubblico salvato 999999."]
    both = api.post("/api/v1/preview", {"audience": roma.pk, "selection": EVERYONE, "methods": ["storage"],
                                        "body": "Ciao"}, headers=italian)
    assert both.json()["errors"] == ["Indica uno solo tra “selection” o “audience”."]
    typo = api.get("/api/v1/broadcasts", data={"orign": "test"}, headers=italian)
    assert typo.json()["errors"] == ["Parametri della query sconosciuti: orign."]
