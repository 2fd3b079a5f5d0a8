"""The JSON API, one section per documented endpoint: what a client sends and gets back,
with the dashboard's permissions and visibility. Every response is checked against the
OpenAPI document by the `api` client (conftest.py)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from sender.api.models import ApiToken
from sender.api.tokens import create_token, revoke
from sender.audience.models import Customer
from sender.models import (
    Broadcast,
    MessageAttachment,
    MessageRecipient,
    MessageSent,
    MessageTypology,
)
from sender.pipeline.commit import prepare
from sender.pipeline.models import MessageTemplate
from tests.factories import customers

EVERYONE = {"recipients.customer": {"filter": ""}}
MESSAGE = {"selection": EVERYONE, "methods": ["email", "storage"], "subject": "Closed", "body": "Closed on Monday."}
PDF = b"%PDF-1.4\n" + b"0" * 200 + b"\n%%EOF\n"


def create(api, key="k1", prepared=True, **message):
    """POST a broadcast; the API answers at once with it "preparing". With `prepared` the
    rows are then written, as the worker's commit task does."""
    response = api.post("/api/v1/broadcasts", {**MESSAGE, **message}, headers={"Idempotency-Key": key})
    if prepared and response.status_code in (200, 201):
        prepare(response.json()["id"])
    return response


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic c2FsbHk6cHc=", "Bearer snd_" + "x" * 43])
def test_a_missing_or_unknown_token_is_401_and_nothing_is_written(header, sender_user):
    from tests.api.conftest import ApiClient

    customers(2)
    client = ApiClient(None)
    response = client.post("/api/v1/broadcasts", MESSAGE,
                           headers={"Idempotency-Key": "k", **({"Authorization": header} if header else {})})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "API token" in response.json()["errors"][0]
    assert not Broadcast.objects.exists()


def test_a_revoked_token_or_a_deactivated_user_stops_working(sender_user):
    from tests.api.conftest import ApiClient

    token, secret = create_token(sender_user, "billing")
    client = ApiClient(secret)
    assert client.get("/api/v1/templates").status_code == 200
    revoke(token)
    assert client.get("/api/v1/templates").status_code == 401
    _token, secret = create_token(sender_user, "again")
    User.objects.filter(pk=sender_user.pk).update(is_active=False)
    assert ApiClient(secret).get("/api/v1/templates").status_code == 401


def test_tokens_are_stored_hashed_and_last_use_is_recorded(sender_user, api):
    [token] = ApiToken.objects.all()
    assert token.last_used_at is None
    api.get("/api/v1/templates")
    token.refresh_from_db()
    assert token.last_used_at is not None
    secret = api.headers["Authorization"].split()[1]
    assert secret not in {token.digest, token.prefix} and token.prefix == secret[:10]
    assert len(token.digest) == 64


def test_a_logged_in_browser_session_is_not_an_api_login(sender_user, client):
    client.force_login(sender_user)
    response = client.post("/api/v1/broadcasts", MESSAGE, content_type="application/json",
                           headers={"Idempotency-Key": "k"})
    assert response.status_code == 401  # only a token authenticates; no cookie-driven sends


# -- preview -------------------------------------------------------------------------------


def test_preview_counts_and_prices_without_writing_and_renders_an_example_per_method(api):
    cs = customers(3)
    Customer.objects.filter(pk=cs[2].pk).update(email="broken")
    response = api.post("/api/v1/preview", MESSAGE)
    assert response.status_code == 200
    by_method = {m["method"]: m for m in response.json()["methods"]}
    assert (by_method["email"]["valid"], by_method["email"]["invalid"]) == (2, 1)
    assert by_method["storage"]["valid"] == 3
    assert {e["method"]: e["body"] for e in response.json()["examples"]} == {
        "email": "Closed on Monday.", "storage": "Closed on Monday."}
    response = api.post("/api/v1/preview", {**MESSAGE, "methods": ["email"], "body": "Dear {{ first_name }}, hi."})
    [example] = response.json()["examples"]
    assert example == {"method": "email", "label": "Email", "recipient": str(cs[0]), "address": cs[0].email,
                       "subject": "Closed", "body": f"Dear {cs[0].first_name}, hi."}
    assert not Broadcast.objects.exists() and not MessageRecipient.objects.exists()


def test_preview_takes_placeholders_on_every_method_and_refuses_unknown_ones(api):
    customers(1)
    response = api.post("/api/v1/preview", {**MESSAGE, "body": "Hi {{ name }}"})
    assert response.status_code == 200
    response = api.post("/api/v1/preview", {**MESSAGE, "methods": ["email"], "body": "{{ user.password }}"})
    assert response.status_code == 422 and "is not a placeholder you can use" in response.json()["errors"][0]


@pytest.mark.parametrize("raw, status, words", [
    (b'{"selection": ', 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b"\xff\xfe", 400, "not valid JSON"),
])
def test_preview_answers_malformed_json_with_a_clear_400(api, raw, status, words):
    response = api.post("/api/v1/preview", raw=raw)
    assert response.status_code == status and words in response.json()["errors"][0]


def test_preview_wants_json_and_known_fields(api):
    assert api.post("/api/v1/preview", raw=b"a=1", content_type="application/x-www-form-urlencoded").status_code == 415
    response = api.post("/api/v1/preview", {**MESSAGE, "recipients": [1]})
    assert response.status_code == 400 and "recipients" in response.json()["errors"][0]


def test_preview_uses_the_dashboards_form_rules(api):
    response = api.post("/api/v1/preview", {"selection": EVERYONE, "methods": ["email"], "body": ""})
    assert response.status_code == 422  # well formed, refused by the form's rule
    assert response.json()["fields"]["body"] == ["Write the message first."]


def test_preview_refuses_recipients_the_user_may_not_see(api, outsider):
    [hidden] = customers(1, owner=outsider)
    response = api.post("/api/v1/preview", {**MESSAGE, "selection": {"recipients.customer": {"ids": [hidden.pk]}}})
    assert response.status_code == 422 and "not visible to you" in response.json()["errors"][0]


def test_preview_and_create_need_the_send_permission(nosend_user, api_as):
    customers(1)
    client = api_as(nosend_user)
    assert client.post("/api/v1/preview", MESSAGE).status_code == 403
    assert create(client).status_code == 403
    assert not Broadcast.objects.exists()


# -- create --------------------------------------------------------------------------------


def test_create_queues_the_broadcast_and_the_same_idempotency_key_sends_once(api, sender_user):
    customers(3)
    first = create(api, key="order-42", prepared=False)
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "preparing" and body["totals"]["total"] == 0  # answered before any row is written
    assert first["Location"] == f"/api/v1/broadcasts/{body['id']}"
    assert DBTaskResult.objects.get().task_path == "sender.pipeline.commit.commit_task"
    prepare(body["id"])
    prepare(body["id"])  # a retried or duplicated task writes nothing twice
    status = api.get(first["Location"]).json()
    assert status["status"] == "queued" and status["totals"]["pending"] == 6 and status["totals"]["total"] == 6
    again = create(api, key="order-42", prepared=False)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Broadcast.objects.count() == 1
    assert MessageRecipient.objects.count() == 6
    assert DBTaskResult.objects.count() == 3  # the commit task, then one delivery task per method, once


def test_the_idempotency_key_is_required_and_belongs_to_its_user(api, api_as, perm_user):
    customers(1)
    response = api.post("/api/v1/broadcasts", MESSAGE)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"][0]
    assert create(api, key="same").status_code == 201
    assert create(api_as(perm_user), key="same").status_code == 201  # another user's key space
    assert Broadcast.objects.count() == 2


def test_create_with_malformed_json_writes_nothing(api):
    customers(1)
    response = api.post("/api/v1/broadcasts", raw=b"{not json", headers={"Idempotency-Key": "k"})
    assert response.status_code == 400
    assert not Broadcast.objects.exists() and not DBTaskResult.objects.exists()


def test_create_from_a_saved_template(api):
    cs = customers(1)
    typology = MessageTypology.objects.create(name="Reminder")
    template = MessageTemplate.objects.create(name="Hello", typology=typology, subject="Hello",
                                              body="Hello {{ first_name }}!")
    response = create(api, template=template.pk, methods=["email"], subject="", body="")
    assert response.status_code == 201
    assert (response.json()["body"], response.json()["typology"]) == ("Hello {{ first_name }}!", typology.pk)
    assert cs


# -- status, rows, cancel ------------------------------------------------------------------


def test_status_and_counters_of_own_broadcast_and_404_for_anothers(api, api_as, perm_user):
    customers(2)
    pk = create(api).json()["id"]
    response = api.get(f"/api/v1/broadcasts/{pk}")
    assert response.status_code == 200
    assert {m["method"]: m["pending"] for m in response.json()["methods"]} == {"email": 2, "storage": 2}
    assert api_as(perm_user).get(f"/api/v1/broadcasts/{pk}").status_code == 404
    assert api.get("/api/v1/broadcasts/999999").status_code == 404


def test_a_user_who_may_see_every_broadcast_sees_it_but_may_not_cancel_it(api, api_as, perm_user):
    customers(1)
    pk = create(api).json()["id"]
    perm_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    viewer = api_as(User.objects.get(pk=perm_user.pk))
    assert viewer.get(f"/api/v1/broadcasts/{pk}").status_code == 200
    response = viewer.post(f"/api/v1/broadcasts/{pk}/cancel")
    assert response.status_code == 403
    assert MessageSent.objects.filter(status=MessageSent.Status.CANCELLED).count() == 0


def test_recipient_rows_come_a_page_at_a_time_until_next_is_null(api):
    customers(5)
    pk = create(api, methods=["email"]).json()["id"]
    seen, url = [], f"/api/v1/broadcasts/{pk}/recipients?limit=2"
    while url:
        page = api.get(url.removeprefix("http://testserver")).json()
        assert len(page["results"]) <= 2
        seen += [row["address"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == [f"c{i}@example.com" for i in range(5)]
    failed = api.get(f"/api/v1/broadcasts/{pk}/recipients", data={"status": "failed"}).json()
    assert failed == {"results": [], "next": None}
    assert api.get(f"/api/v1/broadcasts/{pk}/recipients", data={"after": "x"}).status_code == 400
    assert api.get(f"/api/v1/broadcasts/{pk}/recipients", data={"status": "nope"}).status_code == 400


def test_recipient_rows_cost_the_same_queries_for_few_or_many_rows(api):
    customers(30)
    pk = create(api).json()["id"]

    def queries(limit):
        with CaptureQueriesContext(connection) as captured:
            assert len(api.get(f"/api/v1/broadcasts/{pk}/recipients", data={"limit": limit}).json()["results"]) == limit
        return len(captured)

    assert queries(3) == queries(60)


def test_recipient_rows_of_another_users_broadcast_are_404(api, api_as, perm_user):
    customers(1)
    pk = create(api).json()["id"]
    assert api_as(perm_user).get(f"/api/v1/broadcasts/{pk}/recipients").status_code == 404


def test_cancel_stops_pending_rows_and_is_404_for_a_stranger(api, api_as, perm_user):
    customers(2)
    pk = create(api).json()["id"]
    assert api_as(perm_user).post(f"/api/v1/broadcasts/{pk}/cancel").status_code == 404
    response = api.post(f"/api/v1/broadcasts/{pk}/cancel")
    assert response.status_code == 200
    assert response.json()["cancelled"] == 4 and response.json()["broadcast"]["status"] == "cancelled"
    assert not MessageRecipient.objects.filter(status=MessageRecipient.Status.PENDING).exists()


def test_wrong_http_method_is_405_with_allow(api):
    response = api.client.get("/api/v1/preview", headers=api.headers)
    assert response.status_code == 405 and response["Allow"] == "POST"


# -- attachments ---------------------------------------------------------------------------


def test_an_uploaded_attachment_can_ride_along(api):
    customers(1)
    response = api.post("/api/v1/attachments", {"file": ContentFile(PDF, name="menu.pdf")}, multipart=True)
    assert response.status_code == 201
    attachment = response.json()
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == ("menu.pdf", "application/pdf", len(PDF))
    created = create(api, attachments=[attachment["id"]], methods=["email"])
    assert created.status_code == 201 and created.json()["attachments"] == [attachment["id"]]


def test_an_oversized_upload_is_413_and_nothing_is_stored(api, settings, tmp_path):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 1000}
    small_enough_to_parse = api.post("/api/v1/attachments", {"file": ContentFile(PDF * 10, name="big.pdf")},
                                     multipart=True)
    assert small_enough_to_parse.status_code == 413
    assert "too large" in small_enough_to_parse.json()["errors"][0]
    huge = api.post("/api/v1/attachments", {"file": ContentFile(b"%PDF-" + b"0" * 200_000, name="huge.pdf")},
                    multipart=True)
    assert huge.status_code == 413  # refused from Content-Length, before reading the body
    assert not MessageAttachment.objects.exists()
    assert not any(p.is_file() for p in (tmp_path / "attachments").rglob("*"))


def test_a_disguised_file_is_422_a_missing_one_400_and_a_form_post_415(api):
    response = api.post("/api/v1/attachments", {"file": ContentFile(b"MZ\x90\x00binary", name="cv.pdf")},
                        multipart=True)
    assert response.status_code == 422 and "cv.pdf" in response.json()["errors"][0]
    assert api.post("/api/v1/attachments", {"other": "x"}, multipart=True).status_code == 400
    assert api.post("/api/v1/attachments", {"file": "x"}).status_code == 415
    assert not MessageAttachment.objects.exists()


def test_another_users_attachment_cannot_be_sent(api, api_as, perm_user):
    customers(1)
    theirs = api_as(perm_user).post("/api/v1/attachments", {"file": ContentFile(PDF, name="x.pdf")},
                                    multipart=True).json()["id"]
    response = create(api, attachments=[theirs], methods=["email"])
    assert response.status_code == 422 and "attachments" in response.json()["fields"]
    assert not Broadcast.objects.exists()


# -- templates and schema ------------------------------------------------------------------


def test_templates_are_listed_per_typology(api, nosend_user, api_as):
    notice, reminder = MessageTypology.objects.create(name="Notice"), MessageTypology.objects.create(name="Reminder")
    MessageTemplate.objects.create(name="A", typology=notice, body="a")
    MessageTemplate.objects.create(name="B", typology=reminder, body="b {{ name }}")
    assert [t["name"] for t in api.get("/api/v1/templates").json()["results"]] == ["A", "B"]
    assert [t["name"] for t in api.get("/api/v1/templates", data={"typology": reminder.pk}).json()["results"]] == ["B"]
    assert api_as(nosend_user).get("/api/v1/templates").status_code == 403


def test_the_schema_is_served_without_a_token(db):
    from tests.api.conftest import ApiClient

    response = ApiClient(None).get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["servers"] == [{"url": "http://testserver"}]
