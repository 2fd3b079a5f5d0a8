"""Settings, system checks and addresses of the Telegram method."""

import pytest
from django.core import checks

from sender.channels import methods
from sender.channels.telegram.method import split_text
from sender.exceptions import InvalidAddress
from tests.telegram.conftest import method_settings


def telegram_errors() -> list[str]:
    return [m.id for m in checks.run_checks() if m.id and m.id.startswith("sender.E03")]


def test_a_missing_token_is_reported_by_the_system_check(sandbox, settings):
    assert telegram_errors() == []
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, token="")
    methods.reset()

    assert telegram_errors() == ["sender.E030"]


def test_bad_options_are_reported_by_name(sandbox, settings):
    settings.SENDER["METHODS"]["telegram"] = method_settings(sandbox, token="no-colon", long_text="shorten", rate=0)
    methods.reset()

    assert sorted(telegram_errors()) == ["sender.E031", "sender.E032", "sender.E033"]


def test_chat_ids_are_integers_or_channel_names(sandbox):
    method = methods["telegram"]
    assert method.normalize(" 5550001 ") == "5550001"
    assert method.normalize("-1001234567890") == "-1001234567890"
    assert method.normalize("@sender_news") == "@sender_news"
    with pytest.raises(InvalidAddress, match="is not a Telegram chat id"):
        method.normalize("+39 347 1200001")


def test_split_text_keeps_words_whole_and_every_piece_within_the_limit():
    text = "\n\n".join("word " * 300 for _ in range(4))
    pieces = split_text(text, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert " ".join(pieces).split() == text.split()
    assert split_text("short", 1000) == ["short"]
    assert [len(p) for p in split_text("x" * 2500, 1000)] == [1000, 1000, 500]


def test_the_recipient_history_links_to_the_chat(sandbox, staff_client):
    from sender.audience.models import Customer

    customer = Customer.objects.create(first_name="Mario", last_name="Rossi")
    page = staff_client.get(f"/recipients/recipients.customer/{customer.pk}/history/").content.decode()
    assert f"/telegram/chat/recipients.customer/{customer.pk}/" in page
