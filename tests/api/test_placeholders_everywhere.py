"""Placeholders in every channel's message: the escape, the refusals, and the preview that
prices the rendered texts (total and range), in the web page and the API."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from sender.audience import placeholders
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.backends import parametric
from sender.channels.sms.models import GatewayState
from sender.exceptions import SelectionError
from sender.pipeline.preview import preview
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def test_a_backslash_makes_braces_literal_and_verbatim_works_too():
    text = r"Use \{{ code }} and \{% tag %}, {% verbatim %}{{ raw }}{% endverbatim %}, dear {{ first_name }}."
    assert placeholders.problems(text) == []
    assert placeholders.render(text, {"first_name": "Anna"}) == "Use {{ code }} and {% tag %}, {{ raw }}, dear Anna."
    assert placeholders.used(text) == {"first_name"}
    assert not placeholders.personal(r"Only \{{ braces }} here")


def test_a_bad_placeholder_is_still_refused_on_every_method(sender_user):
    customers(1)
    for method in ("sms", "storage", "email"):
        with pytest.raises(SelectionError, match="is not a placeholder you can use"):
            preview(EVERYONE, sender_user, [method], Draft(body="Hi {{ user.password }}", subject="S"))


def test_a_parametric_order_keeps_what_texts_share_and_sends_only_what_differs():
    message, values = parametric(["Dear Anna, see you", "Dear Bob, see you"])
    assert (message, values) == ("Dear ${Text}, see you", ["Anna", "Bob"])
    message, values = parametric(["Cost $5 for Anna", "Cost $5 for Bo"])
    assert "$" not in message.replace("${Text}", "") and values == ["$5 for Anna", "$5 for Bo"]


def test_the_sms_preview_prices_the_rendered_texts_with_total_and_range(sender_user, client, api_as):
    Customer.objects.create(first_name="Al", phone="+393471200001")
    Customer.objects.create(first_name="Bo", phone="+393471200002")
    Customer.objects.create(first_name="C" * 100, last_name="C" * 100, phone="+393471200003")
    result = preview(EVERYONE, sender_user, ["sms"], Draft(body="Hi {{ first_name }}{{ last_name }}"))
    [m] = result.methods
    price = m.unit_cost_min
    assert (m.segments_min, m.segments) == (1, 2) and m.varies
    assert m.unit_cost == price * 2 and m.cost == price * 4 and result.total_cost == price * 4

    client.force_login(sender_user)
    api = api_as(sender_user).post("/api/v1/preview", {"selection": {"recipients.customer": {"filter": ""}},
                                                       "methods": ["sms"], "body": "Hi {{ first_name }}{{ last_name }}"})
    [answer] = api.json()["methods"]
    assert (answer["segments_min"], answer["segments_max"], answer["cost"]) == (1, 2, str(price * 4))
    assert (answer["unit_cost_min"], answer["unit_cost_max"]) == (str(price), str(price * 2))

    GatewayState.objects.create(method="sms", credits={"GP": 118}, credits_at=timezone.now())
    page = client.post(reverse("sender:preview"), {
        "selection": json.dumps({"recipients.customer": {"filter": ""}}), "methods": ["sms"], "body": "Hi {{ first_name }}{{ last_name }}",
        "subject": "", "idempotency_key": "x"}).text
    assert "1–2" in page and "cost-range" in page
    assert "This send needs 4." in page  # 1 + 1 + 2 segments, not 3 × the longest


def test_the_preview_warns_when_a_rendered_sms_grows_past_the_limit(sender_user):
    Customer.objects.create(first_name="Al", phone="+393471200001")
    Customer.objects.create(first_name="D" * 100, phone="+393471200002")
    result = preview(EVERYONE, sender_user, ["sms"], Draft(body="x" * 950 + "{{ first_name }}"))
    assert any("some recipients' text is too long" in w for w in result.warnings)
