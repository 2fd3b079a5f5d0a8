"""Placeholders rendered in a sandbox: only the recipient's name-like values, nothing else."""

import pytest
from django.core.exceptions import ValidationError

from sender.audience.placeholders import problems, render, values_for
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.models import MessageTypology
from sender.pipeline.commit import commit
from sender.pipeline.models import MessageTemplate
from sender.pipeline.preview import preview
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})


def test_placeholders_render_the_recipients_name_as_plain_text(db):
    [c] = customers(1, first_name="Anna <b>&", last_name="Rossi")
    text = "Dear {{ first_name }} {{ last_name|upper }}{% if name %} ({{ name }}){% endif %}"
    assert render(text, values_for(c)) == "Dear Anna <b>& ROSSI (Anna <b>& Rossi)"


def test_text_without_placeholders_is_left_alone(db):
    assert render("50% off {not a placeholder}", {}) == "50% off {not a placeholder}"


@pytest.mark.parametrize("text, words", [
    ("{{ recipient.user.password }}", "is not a placeholder you can use"),
    ("{{ name.__class__.__mro__ }}", "is not a placeholder you can use"),
    ("{{ name.upper }}", "is not a placeholder you can use"),
    ("{{ settings.SECRET_KEY }}", "is not a placeholder you can use"),
    ("{% debug %}", "“{% debug %}” is not allowed"),
    ("{% load static %}{% static 'x' %}", "“{% load %}” is not allowed"),
    ("{% include '/etc/passwd' %}", "“{% include %}” is not allowed"),
    ("{% for x in name %}{{ x }}{% endfor %}", "“{% for %}” is not allowed"),
    ("{{ name|ljust:'999999999' }}", "The filter “ljust” is not allowed"),
    ("{{ name|default:secret }}", "is not a placeholder you can use"),
    ("{% if name|length > 3 %}x{% endif %}", "The filter “length” is not allowed"),
    ("{% if name %}unclosed", "cannot be read"),
])
def test_a_template_reaching_for_anything_else_is_refused_with_a_sentence(text, words):
    found = problems(text)
    assert found and any(words in p for p in found), found
    with pytest.raises(ValueError):
        render(text, {"name": "x"})  # never rendered, even by a caller that skipped the check


def test_refused_placeholders_stop_preview_and_commit_before_anything_is_written(sender_user):
    customers(1)
    with pytest.raises(SelectionError) as refused:
        preview(EVERYONE, sender_user, ["email"], Draft(body="{{ recipient.user.password }}", subject="x"))
    assert "is not a placeholder" in refused.value.errors[0]
    with pytest.raises(SelectionError):
        commit(EVERYONE, sender_user, ["email"], Draft(body="Hi", subject="Hi {{ name }}"), "k")
    from sender.models import Broadcast

    assert not Broadcast.objects.exists()


def test_a_saved_template_is_checked_when_it_is_saved(db):
    typology = MessageTypology.objects.create(name="Notice")
    template = MessageTemplate(name="Bad", typology=typology, body="{% debug %}")
    with pytest.raises(ValidationError):
        template.full_clean()
    MessageTemplate(name="Good", typology=typology, body="Hi {{ first_name|default:'there' }}").full_clean()


def test_the_dashboard_preview_shows_one_rendered_example_per_method(sender_user, client):
    import json

    [c] = customers(1)
    client.force_login(sender_user)
    page = client.post("/send/preview/", {
        "selection": json.dumps({"recipients.customer": {"filter": ""}}), "methods": ["email"],
        "subject": "Hi", "body": "Dear {{ first_name }}", "idempotency_key": "k",
    })
    assert page.status_code == 200
    assert f"Dear {c.first_name}" in page.text and str(c) in page.text
