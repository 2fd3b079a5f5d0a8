"""Hostile JSON (hypothesis) against every JSON door we serve: the API's POST and PATCH
endpoints, the Telegram webhook, and the selection the send form carries as JSON. Depth,
huge numbers, lone surrogates, NUL, wrong types and huge strings, as the whole body or in
any one field of an otherwise good request: never a 500, and a refusal writes nothing."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sender.api.tokens import create_token
from sender.channels.telegram.models import BotState, TelegramLink
from sender.models import Broadcast, IncomingMessage, MessageRecipient
from sender.pipeline.models import ScheduledBroadcast
from tests.factories import customers
from tests.security.test_input_limits import sandbox  # noqa: F401 (the Telegram sandbox fixture)
from tests.telegram.conftest import SECRET

EXAMPLES = hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSED = {400, 401, 404, 409, 413, 415, 422}


def nested(depth: int, leaf=None, kind: str = "list"):
    for _ in range(depth):
        leaf = [leaf] if kind == "list" else {"a": leaf}
    return leaf


def deep_text(depth: int, kind: str) -> str:
    """Nesting as text: deeper than Python could even build as objects."""
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


hostile_values = st.one_of(
    st.integers(min_value=30, max_value=200).flatmap(lambda d: st.sampled_from([nested(d), nested(d, kind="dict")])),
    st.integers(min_value=2**63 - 2, max_value=10**40) | st.integers(max_value=-(2**63), min_value=-(10**40)),
    st.sampled_from([1e30, -0.0, 1.5, 2.0**64, 5e-324]),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3).map(lambda s: "x" + s),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff\ud800", "💥" * 3]),
    st.sampled_from([None, True, False, 0, "", [], {}, "1", [None], {"ids": "1"}]),
    st.integers(min_value=256, max_value=300_000).map(lambda n: "x" * n),
)
MESSAGE_FIELDS = ["selection", "methods", "typology", "template", "subject", "body", "attachments",
                  "transliterate", "send_at", "unknown"]


def message(later: str) -> dict:
    return {"selection": {"recipients.customer": {"filter": ""}}, "methods": ["storage"], "subject": "S",
            "body": "Hello.", "send_at": later}


def placed(base: dict, where: str, value) -> dict:
    """`value` in one field of a good request, or deep inside the selection."""
    if where == "ids":
        return {**base, "selection": {"recipients.customer": {"ids": [1, value]}}}
    if where == "filter":
        return {**base, "selection": {"recipients.customer": {"filter": value}}}
    if where == "model key":
        return {**base, "selection": {str(value)[:50]: {"filter": ""}}}
    return {**base, where: value}


bodies = st.one_of(
    st.tuples(st.sampled_from([*MESSAGE_FIELDS, "ids", "filter", "model key"]), hostile_values),
    st.tuples(st.just("whole body"), hostile_values),
    st.tuples(st.just("raw"), st.integers(min_value=900, max_value=60_000).flatmap(
        lambda d: st.sampled_from([deep_text(d, "list"), deep_text(d, "dict")]))),
)


def encode(base: dict, where: str, value) -> bytes:
    if where == "raw":
        return value.encode()
    document = value if where == "whole body" else placed(base, where, value)
    return json.dumps(document).encode()  # ASCII: a lone surrogate travels as a \ud800 escape, as a client sends it


def counts() -> tuple:
    return (Broadcast.objects.count(), MessageRecipient.objects.count(), ScheduledBroadcast.objects.count(),
            DBTaskResult.objects.count())


@pytest.fixture
def world(sender_user):
    customers(3)
    token = create_token(sender_user, "hostile")[1]
    later = (timezone.now() + timedelta(days=3)).isoformat()
    client = Client()
    scheduled = client.post("/api/v1/schedules", json.dumps(message(later)), content_type="application/json",
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "base"}).json()
    return {"client": client, "token": token, "later": later, "schedule": scheduled["id"]}


@pytest.mark.parametrize("method, path", [("post", "/api/v1/preview"), ("post", "/api/v1/broadcasts"),
                                          ("post", "/api/v1/schedules"), ("patch", "/api/v1/schedules/{id}")])
@EXAMPLES
@given(body=bodies, key=st.integers(0, 10**9))
def test_hostile_json_on_the_api_is_never_a_500_and_a_refusal_writes_nothing(world, method, path, body, key):
    where, value = body
    base = message(world["later"])
    if not path.endswith("schedules"):
        del base["send_at"]  # the schema has no send_at there: a clean base, then the hostile part
    before = counts()
    schedule = ScheduledBroadcast.objects.values().get(pk=world["schedule"])
    response = getattr(world["client"], method)(
        path.replace("{id}", str(world["schedule"])), encode(base, where, value), content_type="application/json",
        headers={"Authorization": f"Bearer {world['token']}", "Idempotency-Key": f"k{key}"})
    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code in REFUSED:
        assert response.json()["errors"]
        assert counts() == before
        assert ScheduledBroadcast.objects.values().get(pk=world["schedule"]) == schedule
    else:
        assert response.status_code in (200, 201), response.content[:300]


@EXAMPLES
@given(body=bodies)
def test_hostile_json_on_the_telegram_webhook_is_never_a_500_and_a_refusal_writes_nothing(sandbox, db, body):  # noqa: F811
    where, value = body
    base = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"},
                                         "text": "hi"}}
    before = (TelegramLink.objects.count(), BotState.objects.count(), IncomingMessage.objects.count())
    response = Client().post("/telegram/webhook/", encode(base, where, value), content_type="application/json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code in (200, 400, 503)
    if response.status_code == 400:
        assert (TelegramLink.objects.count(), BotState.objects.count(), IncomingMessage.objects.count()) == before


@EXAMPLES
@given(body=bodies)
def test_hostile_json_in_the_send_forms_selection_is_a_form_error_and_writes_nothing(world, sender_user, body):
    where, value = body
    selection = {"recipients.customer": {"filter": ""}}
    client = Client()
    client.force_login(sender_user)
    before = counts()
    raw = encode(selection, where if where in ("raw", "whole body") else "model key", value).decode()
    response = client.post("/send/", {"selection": raw, "methods": ["storage"], "body": "Hi",
                                      "idempotency_key": "form"})
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert counts() == before
