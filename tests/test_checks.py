"""Malformed SENDER settings are reported by `manage.py check` with a clear message."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from sender.channels import methods
from sender.exceptions import InvalidMethod

pytestmark = pytest.mark.django_db


def messages(settings, **sender):
    settings.SENDER = {**settings.SENDER, **sender}
    return [(e.id, e.msg) for e in run_checks(tags=["sender"]) if e.id.startswith("sender.")]


def test_the_shipped_settings_pass(settings):
    assert messages(settings) == []
    call_command("check")


@pytest.mark.parametrize("sender, code, words", [
    ({"METHODS": {}}, "sender.E002", "at least one send method"),
    ({"METHODS": {"email": {"OPTIONS": {}}}}, "sender.E003", "needs a BACKEND"),
    ({"METHODS": {"fax": {"BACKEND": "sender.channels.fax.FaxMethod"}}}, "sender.E004", "cannot import backend 'sender.channels.fax.FaxMethod'"),
    ({"METHODS": {"x": {"BACKEND": "sender.models.Broadcast"}}}, "sender.E004", "is not a BaseMethod subclass"),
    ({"METHODS": {"storage": {"BACKEND": "sender.channels.storage.method.StorageMethod", "PRICE": "free"}}}, "sender.E004", "PRICE must be a number, not 'free'"),
    ({"METHODS": {"email": {"BACKEND": "sender.channels.email.method.EmailMethod", "OPTIONS": {"host": ""}}}}, "sender.E010", "OPTIONS['host'] is empty"),
    ({"RECIPIENT_MODELS": ["shop.Order"]}, "sender.E007", 'no model "shop.Order"'),
    ({"RECIPIENT_MODELS": ["auth.User"]}, "sender.E007", "does not use sender.audience.mixin.RecipientMixin"),
    ({"RECIPIENT_MODELS": []}, "sender.E006", "lists no model"),
    ({"BATCH_SIZE": 0}, "sender.E008", 'SENDER["BATCH_SIZE"] must be a positive integer'),
    ({"CHECKPOINT_ROWS": 0}, "sender.E008", 'SENDER["CHECKPOINT_ROWS"] must be a positive integer'),
    ({"METHODS": {"storage": {"BACKEND": "sender.channels.storage.method.StorageMethod", "CHECKPOINT_ROWS": "1000"}}},
     "sender.E004", "CHECKPOINT_ROWS must be a positive integer, not '1000'"),
])
def test_malformed_settings_are_named_in_the_check(settings, sender, code, words):
    found = messages(settings, **sender)
    assert any(c == code and words in m for c, m in found), found
    with pytest.raises(SystemCheckError, match=code):
        call_command("check")


def test_an_unknown_method_alias_names_the_configured_ones(settings):
    with pytest.raises(InvalidMethod, match="Unknown send method 'fax'. Configured: email, storage."):
        methods["fax"]
