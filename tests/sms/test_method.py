"""The SMS method before anything is sent: numbers, cost in the preview, transliteration, checks."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core import checks

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.exceptions import InvalidAddress, SelectionError
from sender.pipeline.preview import preview
from tests.factories import customers


@pytest.fixture
def sms(settings):
    return methods["sms"]


@pytest.mark.parametrize("raw, e164", [
    ("347 123 4567", "+393471234567"),  # national, default region IT
    ("+39 347-123-4567", "+393471234567"),
    ("0039 3471234567", "+393471234567"),
    ("+44 7911 123456", "+447911123456"),
])
def test_numbers_become_e164_with_the_default_region(sms, raw, e164):
    assert sms.normalize(raw) == e164


@pytest.mark.parametrize("raw, words", [
    ("hello", "is not a phone number"),
    ("+39 347", "is not a valid phone number"),
    ("06 6982 1234", "is not a mobile number"),  # a Rome landline
])
def test_bad_numbers_are_invalid_with_the_reason(sms, raw, words):
    with pytest.raises(InvalidAddress, match=words):
        sms.normalize(raw)


def test_the_default_region_comes_from_settings(settings):
    settings.SENDER = {**settings.SENDER, "DEFAULT_REGION": "GB"}
    assert methods["sms"].normalize("07911 123456") == "+447911123456"


def everyone() -> Selection:
    return Selection.parse({"recipients.customer": {"filter": ""}})


def test_the_preview_counts_invalid_non_mobile_and_duplicates_after_normalization(sender_user):
    Customer.objects.bulk_create([
        Customer(first_name="A", last_name="1", phone="+39 347 123 4567"),
        Customer(first_name="B", last_name="2", phone="3471234567"),  # same number, written differently
        Customer(first_name="C", last_name="3", phone="06 6982 1234"),
        Customer(first_name="D", last_name="4", phone=""),
        Customer(first_name="E", last_name="5", phone="+393471234568"),
    ])
    result = preview(everyone(), sender_user, ["sms"], Draft(body="Ciao"))
    [m] = result.methods
    assert (m.valid, m.duplicate, m.invalid) == (2, 1, 2)
    reasons = {r.address: (r.status, r.reason) for r in m.rejected}
    assert reasons["+393471234567"] == ("duplicate", "Same address as another recipient of this message.")
    assert reasons["06 6982 1234"] == ("invalid", "“06 6982 1234” is not a mobile number, so it cannot receive SMS.")
    assert reasons[""] == ("invalid", "No address for SMS.")


@pytest.mark.parametrize("body, segments", [
    ("a" * 160, 1), ("a" * 161, 2), ("€" * 81, 2), ("Привет", 1), ("😀" * 36, 2), ("x" * 1000, 7),
])
def test_the_preview_prices_segments_times_the_price_of_the_quality(sender_user, body, segments):
    customers(3)
    [m] = preview(everyone(), sender_user, ["sms"], Draft(body=body)).methods
    assert m.segments == segments
    assert m.unit_cost == Decimal("0.065") * segments  # GP, the default quality
    assert m.cost == Decimal("0.065") * segments * 3


def test_each_quality_has_its_own_price(sender_user, settings):
    customers(2)
    config = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"]}}
    sms = config["METHODS"]["sms"]
    config["METHODS"]["sms"] = {**sms, "OPTIONS": {**sms["OPTIONS"], "message_type": "SI"}}
    settings.SENDER = config
    [m] = preview(everyone(), sender_user, ["sms"], Draft(body="a" * 150)).methods  # SI: one SMS at most
    assert (m.unit_cost, m.cost) == (Decimal("0.035"), Decimal("0.070"))


def test_more_segments_than_allowed_is_refused_before_sending(sender_user):
    customers(1)
    with pytest.raises(SelectionError, match="needs 8 segments"):
        preview(everyone(), sender_user, ["sms"], Draft(body="x" * 1072))


@pytest.mark.parametrize("quality, body, longest", [
    ("GP", "x" * 1000, 1000), ("TI", "€" * 500, 1000), ("GP", "Ж" * 450, 450), ("TI", "😀" * 225, 450),
    ("SI", "x" * 160, 160), ("SI", "Ж" * 160, 160),
])
def test_the_preview_refuses_what_skebby_would_refuse_for_the_quality(sender_user, settings, quality, body, longest):
    customers(1)
    config = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"]}}
    sms = config["METHODS"]["sms"]
    config["METHODS"]["sms"] = {**sms, "OPTIONS": {**sms["OPTIONS"], "message_type": quality}}
    settings.SENDER = config
    assert preview(everyone(), sender_user, ["sms"], Draft(body=body)).methods[0].valid == 1  # at the limit
    longer = body + body[-1]
    encoding = methods["sms"].text(longer).encoding
    with pytest.raises(SelectionError) as refused:
        preview(everyone(), sender_user, ["sms"], Draft(body=longer))
    units = methods["sms"].text(longer).units
    assert (f"The SMS is {units} characters long in {encoding}; Skebby sends at most {longest} in {encoding} "
            f"for quality {quality}.") in str(refused.value)


def test_transliteration_keeps_the_sms_in_gsm7_when_asked(sender_user):
    customers(1)
    body = "Perché non è così? Ça va, àáâ “ok” " + "a" * 40
    plain = preview(everyone(), sender_user, ["sms"], Draft(body=body))
    assert plain.methods[0].segments == 2
    assert "UCS-2 because of Ç á â" not in " ".join(plain.warnings)  # Ç is GSM-7; ç and á are not
    assert any("UCS-2 because of á â" in w for w in plain.warnings)
    assert "Replacing accented letters would keep the SMS in GSM-7." in plain.warnings
    asked = preview(everyone(), sender_user, ["sms"], Draft(body=body, transliterate=True))
    assert asked.methods[0].segments == 1
    assert not any("UCS-2" in w for w in asked.warnings)
    assert methods["sms"].text(body, True).text.startswith('Perché non è così? Ça va, àaa "ok"')


def test_the_system_check_names_what_is_missing(settings):
    config = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"]}}
    sms = config["METHODS"]["sms"]
    config["METHODS"]["sms"] = {**sms, "OPTIONS": {**sms["OPTIONS"], "username": "", "password": "",
                                                   "message_type": "XX"}}
    settings.SENDER = config
    messages = {m.id: m.msg for m in checks.run_checks(tags=["sender"])}
    assert messages["sender.E021"] == ("Send method 'sms': Skebby needs OPTIONS 'username', 'password'; set "
                                       "SENDER_SKEBBY_USERNAME, SENDER_SKEBBY_PASSWORD in the environment.")
    assert "message_type must be one of GP, TI, SI, not 'XX'" in messages["sender.E022"]


def test_the_default_configuration_passes_the_checks():
    assert [m for m in checks.run_checks(tags=["sender"]) if m.level >= checks.WARNING] == []


def test_an_order_id_is_32_characters_skebby_accepts_and_the_same_for_the_same_rows():
    from sender.channels.sms.method import order_id
    from tests.sms.test_delivery import Row

    rows = [Row(i, f"+39347{i:07d}", uuid.uuid4(), 1) for i in range(3)]
    first = order_id(rows)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,32}", first)
    assert order_id(list(rows)) == first  # a retried order is recognised by its id
    assert order_id(rows[:2]) != first
