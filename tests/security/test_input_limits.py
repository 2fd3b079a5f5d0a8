"""Input that used to end in a 500 or a long CPU burn: a search of a thousand words, JSON
nested 50,000 deep, ids past 2**63 or not ids at all. Each gets a clear answer (a form
error, a 400, a 404) and nothing is written."""

import json
import uuid

import pytest
from django.test import Client

from sender.channels.telegram.models import DeepLink
from sender.dev.sandbox import telegram as telegram_sandbox
from sender.models import Broadcast, MessageRecipient
from sender.search import MAX_LENGTH, MAX_TERMS
from tests.factories import customers
from tests.inbox.conftest import person, send_stored
from tests.telegram.conftest import SECRET, method_settings

WORDS = " ".join(f"t{i}" for i in range(1000))
TOO_MANY = "Search for at most 10 words."
TOO_LONG = f"Ensure this value has at most {MAX_LENGTH} characters"


@pytest.fixture
def staff(sender_user) -> Client:
    client = Client()
    client.force_login(sender_user)
    return client


@pytest.fixture
def sandbox(settings):
    server = telegram_sandbox.start()
    server.state.auto_deliver = False
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], "telegram": method_settings(server)}}
    try:
        yield server
    finally:
        server.stop()


# -- finding 3: search terms and length are capped, and the page says so ------------------------


@pytest.mark.parametrize("q, error", [(WORDS, TOO_MANY), ("x" * (MAX_LENGTH + 1), TOO_LONG)])
def test_the_picker_refuses_a_huge_search_with_a_sentence_and_shows_the_limits(staff, q, error):
    customers(3)
    response = staff.get("/send/recipients/recipients.customer/", {"q": q})
    assert response.status_code == 200
    assert error in response.text
    assert response.context["page"].paginator.count == 0
    assert "Up to 10 words, 200 characters" in response.text  # the help text next to the box


def test_the_picker_still_finds_with_the_most_words_allowed(staff):
    customers(3)
    q = " ".join(["First1"] + ["Last1"] * (MAX_TERMS - 1))
    response = staff.get("/send/recipients/recipients.customer/", {"q": q})
    assert response.context["page"].paginator.count == 1


def test_the_history_refuses_a_huge_search_with_a_sentence(staff):
    response = staff.get("/history/", {"q": WORDS})
    assert response.status_code == 200 and TOO_MANY in response.text
    assert "Up to 10 words, 200 characters" in response.text


def test_the_inbox_refuses_a_huge_search_with_a_sentence(sender_user):
    user, record = person("rita", "rita@example.com")
    send_stored(sender_user, [record], subject="Notice")
    client = Client()
    client.force_login(user)
    response = client.get("/inbox/", {"q": WORDS})
    assert response.status_code == 200 and TOO_MANY in response.text
    assert "Notice" not in response.text
    assert "Notice" in client.get("/inbox/", {"q": "notice"}).text


def test_a_send_to_everyone_matching_a_huge_search_is_refused_and_writes_nothing(staff):
    customers(2)
    data = {"selection": json.dumps({"recipients.customer": {"filter": f"q={WORDS}"}}), "methods": ["storage"],
            "body": "Hi", "idempotency_key": uuid.uuid4().hex}
    response = staff.post("/send/", data)
    assert response.status_code == 400 and TOO_MANY in response.text
    assert not Broadcast.objects.exists()


# -- finding 4: the dashboard's send form and the staff pages ------------------------------------


@pytest.mark.parametrize("posted", [
    {"attachments": "1e30"},
    {"attachments": str(10**30)},
    {"attachments": "-1"},
    {"selection": json.dumps({"recipients.customer": {"ids": [10**30]}})},
    {"selection": json.dumps({"recipients.customer": {"ids": ["1e30"]}})},
    {"selection": "[" * 50_000},
    {"selection": json.dumps({"recipients.customer": {"filter": "q=\ud800"}})},
], ids=["attachment 1e30", "attachment 10**30", "attachment -1", "id 10**30", "id 1e30", "deep selection",
        "lone surrogate"])
def test_the_send_form_refuses_ids_out_of_range_and_hostile_selections(staff, posted):
    customers(2)
    data = {"selection": json.dumps({"recipients.customer": {"filter": ""}}), "methods": ["storage"],
            "body": "Hi", "idempotency_key": uuid.uuid4().hex, **posted}
    for url in ("/send/preview/", "/send/"):
        response = staff.post(url, data)
        assert response.status_code in (200, 400)  # the preview is a fragment with the errors in it
        assert response.context["form"].errors
    assert not Broadcast.objects.exists() and not MessageRecipient.objects.exists()


@pytest.mark.parametrize("pk", ["abc", str(10**30), "-1", "1e3"])
def test_a_recipient_page_with_an_id_that_is_not_one_is_404(staff, pk):
    customers(1)
    assert staff.get(f"/telegram/chat/recipients.customer/{pk}/").status_code == 404
    assert staff.post(f"/telegram/chat/recipients.customer/{pk}/deep-link/").status_code == 404
    assert staff.post(f"/recipients/recipients.customer/{pk}/invite/").status_code == 404
    assert staff.get(f"/recipients/recipients.customer/{pk}/history/").status_code == 404
    assert not DeepLink.objects.exists()


@pytest.mark.parametrize("raw", [b"[" * 50_000, b'{"update_id": 1, "message": ' * 5_000, b'{"update_id": "\\ud800"}',
                                 b'{"update_id": 1, "x": "\\u0000"}'],
                         ids=["nested arrays", "nested objects", "lone surrogate", "NUL"])
def test_the_telegram_webhook_refuses_hostile_json_with_400(sandbox, db, raw):
    response = Client().post("/telegram/webhook/", raw, content_type="application/json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400
    assert sandbox.state.sent == []
