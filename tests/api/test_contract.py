"""The API keeps its contract on hostile and odd input: 400 for what breaks the schema, 422 for
what is well formed but cannot be done, JSON 404 for every unknown path, never a 500, and
nothing written. Every answer is checked against the OpenAPI document by the `api` client."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageTypology
from sender.pipeline.models import MessageTemplate, ScheduledBroadcast
from tests.factories import customers

EVERYONE = {"recipients.customer": {"filter": ""}}
MESSAGE = {"selection": EVERYONE, "methods": ["storage"], "subject": "Closed", "body": "Closed on Monday."}
HUGE = 10**30
LATER = (timezone.now() + timedelta(days=30)).isoformat()


def nothing_written() -> bool:
    return not (Broadcast.objects.exists() or MessageRecipient.objects.exists() or ScheduledBroadcast.objects.exists()
                or DBTaskResult.objects.exists())


BAD_MESSAGES = {
    "typology past 2**63": {"typology": 2**64},
    "typology true": {"typology": True},
    "typology a string": {"typology": "1"},
    "template past 2**63": {"template": HUGE},
    "id past 2**63": {"selection": {"recipients.customer": {"ids": [HUGE]}}},
    "negative id": {"selection": {"recipients.customer": {"ids": [-1]}}},
    "id as float": {"selection": {"recipients.customer": {"ids": [1.5]}}},
    "ids and filter": {"selection": {"recipients.customer": {"ids": [1], "filter": ""}}},
    "unknown model": {"selection": {"auth.user": {"ids": [1]}}},
    "attachment past 2**63": {"attachments": [HUGE]},
    "transliterate yes": {"transliterate": "yes"},
    "unknown method": {"methods": ["pigeon"]},
    "no method": {"methods": []},
    "lone surrogate in body": {"body": "Closed \ud800"},
    "lone surrogate in subject": {"subject": "\udfff"},
    "NUL in subject": {"subject": "a\x00b"},
    "lone surrogate in a key": {"selection": {"recipients.customer\ud800": {"filter": ""}}},
    "subject too long": {"subject": "s" * 256},
    "body_format html": {"body_format": "html"},
    "body_format null": {"body_format": None},
    "an audience besides the selection": {"audience": 1},
    "audience past 2**63": {"audience": HUGE},
}


@pytest.mark.parametrize("path", ["/api/v1/preview", "/api/v1/broadcasts", "/api/v1/schedules"])
@pytest.mark.parametrize("change", BAD_MESSAGES.values(), ids=list(BAD_MESSAGES))
def test_a_message_that_breaks_the_schema_is_400_with_a_reason_and_writes_nothing(api, path, change):
    customers(2)
    extra = {"send_at": LATER} if path.endswith("schedules") else {}
    response = api.post(path, {**MESSAGE, **extra, **change}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 400
    assert all(e.endswith(".") for e in response.json()["errors"])
    assert nothing_written()


@pytest.mark.parametrize("path", ["/api/v1/preview", "/api/v1/broadcasts"])
def test_send_at_where_the_schema_forbids_it_is_refused_not_ignored(api, path):
    customers(2)
    response = api.post(path, {**MESSAGE, "send_at": LATER}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 400 and "send_at" in response.json()["errors"][0]
    assert nothing_written()


@pytest.mark.parametrize("raw", [b"[" * 50_000, b'{"a":' * 50_000, b"[" * 40 + b"]" * 40],
                         ids=["50,000 arrays", "50,000 objects", "40 levels"])
@pytest.mark.parametrize("path", ["/api/v1/preview", "/api/v1/broadcasts", "/api/v1/schedules"])
def test_deeply_nested_json_is_400(api, path, raw):
    response = api.post(path, raw=raw, headers={"Idempotency-Key": "k"})
    assert response.status_code == 400 and "nested too deeply" in response.json()["errors"][0]
    assert nothing_written()


@pytest.mark.parametrize("send_at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00",
                                     "2035-01-01T00:00:00Z", "2030-01-01T00:00:00+23:59"])
def test_a_time_to_send_that_is_far_off_or_odd_is_422_on_create_and_change(api, send_at):
    customers(1)
    response = api.post("/api/v1/schedules", {**MESSAGE, "send_at": send_at}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert nothing_written()
    created = api.post("/api/v1/schedules", {**MESSAGE, "send_at": LATER}, headers={"Idempotency-Key": "ok"})
    pk = created.json()["id"]
    response = api.patch(f"/api/v1/schedules/{pk}", {"send_at": send_at})
    assert response.status_code == 422
    assert api.get(f"/api/v1/schedules/{pk}").json()["send_at"] == created.json()["send_at"]  # unchanged


def test_a_schedule_change_accepts_a_template_and_a_patch_of_form_data_is_415(api):
    customers(1)
    typology = MessageTypology.objects.create(name="Reminder")
    template = MessageTemplate.objects.create(name="Hello", typology=typology, subject="From the template",
                                              body="Template body.")
    pk = api.post("/api/v1/schedules", {**MESSAGE, "send_at": LATER}, headers={"Idempotency-Key": "k"}).json()["id"]
    changed = api.patch(f"/api/v1/schedules/{pk}", {"template": template.pk})
    assert changed.status_code == 200
    assert (changed.json()["subject"], changed.json()["body"]) == ("From the template", "Template body.")
    assert api.patch(f"/api/v1/schedules/{pk}", raw=b"body=x",
                     content_type="application/x-www-form-urlencoded").status_code == 415


@pytest.mark.parametrize("query", [{"limit": 501}, {"limit": 0}, {"limit": "ten"}, {"after": -1}, {"after": "x"},
                                   {"after": HUGE}, {"status": "nope"}, {"method": "pigeon"}, {"limit": ["1", "2"]}])
def test_recipient_pages_refuse_parameters_out_of_the_schema(api, query):
    customers(1)
    pk = api.post("/api/v1/broadcasts", MESSAGE, headers={"Idempotency-Key": "k"}).json()["id"]
    assert api.get(f"/api/v1/broadcasts/{pk}/recipients", data=query).status_code == 400


@pytest.mark.parametrize("typology", ["null", "abc", "0", str(HUGE), "1.5"])
def test_templates_refuse_a_typology_that_is_not_an_id(api, typology):
    assert api.get("/api/v1/templates", data={"typology": typology}).status_code == 400


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/broadcasts/abc"), ("get", "/api/v1/broadcasts/-1"), ("get", "/api/v1/broadcasts/0"),
    ("get", f"/api/v1/broadcasts/{HUGE}"), ("post", "/api/v1/schedules/abc/cancel"), ("post", "/api/v1/nothing"),
    ("get", "/api/v1/broadcasts/1/nothing"), ("delete", "/api/v1/"), ("patch", "/api/v1/schedules/-5"),
])
def test_every_unknown_api_path_is_a_json_404(api, method, path):
    response = getattr(api.client, method)(path, headers=api.headers)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {"errors": ["Not found."]}


def test_multipart_without_a_boundary_is_a_json_400(api):
    response = api.post("/api/v1/attachments", raw=b"--x\r\n", content_type="multipart/form-data")
    assert response.status_code == 400 and response.json()["errors"]
    assert not MessageAttachment.objects.exists()


def test_an_empty_idempotency_key_is_400(api):
    customers(1)
    response = api.post("/api/v1/broadcasts", MESSAGE, headers={"Idempotency-Key": ""})
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"][0]
    assert nothing_written()


# -- finding 6: a key reused with another request is 422 ---------------------------------------


def test_a_key_reused_with_a_different_body_is_422_and_sends_nothing_new(api):
    customers(2)
    first = api.post("/api/v1/broadcasts", {**MESSAGE, "methods": ["storage", "email"]},
                     headers={"Idempotency-Key": "order-42"})
    assert first.status_code == 201
    retry = api.post("/api/v1/broadcasts", {**MESSAGE, "methods": ["email", "storage"]},  # same request, reordered
                     headers={"Idempotency-Key": "order-42"})
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    other = api.post("/api/v1/broadcasts", {**MESSAGE, "methods": ["storage", "email"], "body": "Open on Monday."},
                     headers={"Idempotency-Key": "order-42"})
    assert other.status_code == 422 and "different request" in other.json()["errors"][0]
    assert Broadcast.objects.count() == 1 and Broadcast.objects.get().body == "Closed on Monday."


def test_a_schedule_key_reused_with_another_time_is_422(api):
    customers(1)
    first = api.post("/api/v1/schedules", {**MESSAGE, "send_at": LATER}, headers={"Idempotency-Key": "s"})
    assert first.status_code == 201
    same = api.post("/api/v1/schedules", {**MESSAGE, "send_at": LATER}, headers={"Idempotency-Key": "s"})
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    later = (timezone.now() + timedelta(days=40)).isoformat()
    other = api.post("/api/v1/schedules", {**MESSAGE, "send_at": later}, headers={"Idempotency-Key": "s"})
    assert other.status_code == 422
    assert ScheduledBroadcast.objects.count() == 1


def test_the_send_form_reused_with_other_content_says_so_and_sends_nothing_new(sender_user):
    customers(2)
    client = Client()
    client.force_login(sender_user)
    data = {"selection": json.dumps(EVERYONE), "methods": ["storage"], "body": "First", "idempotency_key": "form-1"}
    assert client.post("/send/", data).status_code == 302
    assert client.post("/send/", data).status_code == 302  # a double click: the same broadcast
    response = client.post("/send/", {**data, "body": "Second"})  # back button, edited, sent again
    assert response.status_code == 400 and "already sent with different content" in response.text
    assert Broadcast.objects.count() == 1 and Broadcast.objects.get().body == "First"


def test_a_whole_number_written_as_5_point_0_is_the_integer_5_as_in_json_schema(api):
    cs = customers(2)
    response = api.post("/api/v1/preview", {**MESSAGE, "selection": {"recipients.customer": {"ids": [float(cs[0].pk)]}}})
    assert response.status_code == 200 and response.json()["methods"][0]["valid"] == 1
    response = api.post("/api/v1/preview", {**MESSAGE, "selection": {"recipients.customer": {"ids": [1.5]}}})
    assert response.status_code == 400
