"""The httpx client against the sandbox: authentication, renewal, retries, clear reasons."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from sender.channels.sms.gateway import SkebbyClient
from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState
from sender.exceptions import DeliveryError

NUMBERS = ["+393471234567", "+393471234568"]
OTHERS = ["+393471234569", "+393471234560"]


@pytest.fixture
def sandbox():
    server = SkebbySandbox(state=SkebbyState(step=1.0)).start()
    yield server
    server.stop()


def client(server, **kwargs) -> SkebbyClient:
    options = {"username": "sandbox", "password": "sandbox", "timeout": 1, "retries": 2, "backoff": 0.01,
               "backoff_max": 0.05, **kwargs}
    return SkebbyClient(server.url, **options)


def test_it_logs_in_once_and_sends_many_numbers_in_one_call(sandbox):
    with client(sandbox) as c:
        first = c.send_sms("order-1", "Ciao", NUMBERS)
        second = c.send_sms("order-2", "Ciao", NUMBERS)
    assert (first.order_id, first.total_sent, second.order_id) == ("order-1", 2, "order-2")
    assert first.remaining == 1_000_000 - 2
    assert sandbox.state.calls["GET login"] == 1 and sandbox.state.calls["POST sms"] == 2
    sent = json.loads([r for r in sandbox.state.requests if r["path"] == "sms"][0]["body"])
    assert (sent["allowInvalidRecipients"], sent["recipient"], sent["order_id"]) == (True, NUMBERS, "order-1")


def test_it_logs_in_again_when_the_session_expired(sandbox):
    with client(sandbox) as c:
        c.send_sms("a", "Ciao", NUMBERS)
        sandbox.state.advance(301)  # five idle minutes
        c.send_sms("b", "Ciao", OTHERS)
        sandbox.state.expire_sessions()
        assert c.credits()["sms"]["GP"] == 1_000_000 - 4
    assert sandbox.state.calls["GET login"] == 3
    assert sandbox.state.summary()["twice"] == []


def test_a_404_with_keys_not_proven_is_checked_by_logging_in_before_calling_the_order_unknown(sandbox):
    with client(sandbox) as c:
        c.send_sms("a", "Ciao", NUMBERS)
        user_key, session = c.keys
    with client(sandbox) as c:
        c.keys = ("U0LDUSERKEY", session)  # kept from before: the account's user key is no longer valid
        assert c.order_states("a") == {number: "WAITING" for number in NUMBERS}
        assert c.order_states("unknown") is None  # the keys are proven now: a 404 is an unknown order
    assert sandbox.state.calls["GET login"] == 2 and sandbox.state.calls["GET sms"] == 3


def test_token_authentication_uses_the_access_token_header(sandbox):
    with client(sandbox, auth="token") as c:
        c.send_sms("a", "Ciao", NUMBERS)
    assert sandbox.state.calls["GET token"] == 1 and "GET login" not in sandbox.state.calls
    assert "Access_token" in sandbox.state.requests[-1]["headers"]


def test_wrong_credentials_are_a_permanent_error_that_says_so(sandbox):
    with client(sandbox, password="wrong") as c, pytest.raises(DeliveryError) as caught:
        c.send_sms("a", "Ciao", NUMBERS)
    assert caught.value.permanent
    assert "refused the username or password" in caught.value.message
    assert "POST sms" not in sandbox.state.calls


def test_a_5xx_is_retried_with_backoff_and_the_order_is_sent_once(sandbox):
    sandbox.state.faults.errors = [503, 500]
    with client(sandbox) as c:
        accepted = c.send_sms("a", "Ciao", NUMBERS)
    assert accepted.order_id == "a" and not accepted.existing
    assert sandbox.state.calls["POST sms"] == 3
    assert sandbox.state.calls["GET sms"] == 2  # asked whether the order exists before each retry


def test_a_5xx_after_the_gateway_took_the_order_does_not_send_it_again(sandbox):
    sandbox.state.faults.errors = [502]
    sandbox.state.faults.accept_then_fail = True
    with client(sandbox) as c:
        accepted = c.send_sms("a", "Ciao", NUMBERS)
    assert accepted.existing
    assert sandbox.state.calls["POST sms"] == 1
    assert sandbox.state.summary()["messages"] == 2 and sandbox.state.summary()["twice"] == []


@pytest.mark.parametrize("fault", [{"drop": 1}, {"delay": 1.5, "slow_calls": 1}], ids=["reset", "timeout"])
def test_a_lost_answer_is_looked_up_not_resent(sandbox, fault):
    for name, value in fault.items():
        setattr(sandbox.state.faults, name, value)
    with client(sandbox) as c:
        accepted = c.send_sms("a", "Ciao", NUMBERS)
    assert accepted.existing and sandbox.state.calls["POST sms"] == 1
    assert sandbox.state.summary()["twice"] == []


def test_a_gateway_that_keeps_failing_ends_in_a_transient_error_with_its_words(sandbox):
    sandbox.state.faults.errors = [503] * 5
    with client(sandbox) as c, pytest.raises(DeliveryError) as caught:
        c.send_sms("a", "Ciao", NUMBERS)
    assert not caught.value.permanent
    assert caught.value.message == "Skebby is busy or failing (HTTP 503): Internal error"
    assert sandbox.state.calls["POST sms"] == 3 and sandbox.state.summary()["messages"] == 0


def test_rate_limiting_honours_retry_after(sandbox, monkeypatch):
    waits = []
    monkeypatch.setattr("sender.channels.sms.gateway.time.sleep", waits.append)
    sandbox.state.faults.rate_limited = 1
    sandbox.state.faults.retry_after = 0.04
    with client(sandbox) as c:
        c.send_sms("a", "Ciao", NUMBERS)
    assert waits == [0.04]


def test_a_refusal_is_permanent_with_the_gateways_reason(sandbox):
    sandbox.state.credits["GP"] = 1
    with client(sandbox) as c, pytest.raises(DeliveryError) as caught:
        c.send_sms("a", "Ciao", NUMBERS)
    assert caught.value.permanent
    assert caught.value.message == "Skebby refused the request (HTTP 400): Not enough credit"


def test_nothing_listening_is_a_transient_connection_error():
    with SkebbyClient("http://127.0.0.1:9/API/v1.0/REST/", "u", "p", retries=0) as c, \
            pytest.raises(DeliveryError) as caught:
        c.send_sms("a", "Ciao", NUMBERS)
    assert not caught.value.permanent and "Cannot connect to Skebby" in caught.value.message


def test_it_reads_order_states_credits_and_received_sms(sandbox):
    sandbox.state.pin("+393471234568", "KO")
    sandbox.state.receive("+393471234567", "Grazie")
    with client(sandbox) as c:
        c.send_sms("a", "Ciao", NUMBERS, message_type="SI")
        sandbox.state.advance(5)
        assert c.order_states("a") == {"+393471234567": "SENT", "+393471234568": "KO"}
        assert c.order_states("unknown") is None
        assert c.credits()["sms"]["SI"] == 1_000_000 - 2
        [reply], more = c.received(timezone.now() - timedelta(minutes=1), timezone.now())
    assert (reply.sender, reply.text, len(reply.received_at), more) == ("+393471234567", "Grazie", 14, False)


def test_credits_are_keyed_gp_ti_si_even_when_skebby_answers_with_internal_type_ids(sandbox):
    sandbox.state.credits = {"GP": 120, "TI": 7, "SI": 3}
    sandbox.state.aliases_ignored = True
    with client(sandbox) as c:
        assert c.credits()["sms"] == {"GP": 120, "TI": 7, "SI": 3}


def test_a_parametric_sms_reaches_each_number_with_its_own_values_in_one_call(sandbox):
    people = [{"recipient": NUMBERS[0], "Name": "Anna"}, {"recipient": NUMBERS[1], "Name": "Bruno"}]
    with client(sandbox) as c:
        accepted = c.send_parametric("p1", "Ciao ${Name}!", people)
    assert (accepted.order_id, accepted.total_sent, accepted.remaining) == ("p1", 2, 1_000_000 - 2)
    assert sandbox.state.calls["POST paramsms"] == 1
    assert sandbox.state.orders["p1"].texts == {NUMBERS[0]: "Ciao Anna!", NUMBERS[1]: "Ciao Bruno!"}


def test_a_parametric_sms_whose_answer_was_lost_is_looked_up_not_sent_again(sandbox):
    sandbox.state.faults.drop = 1
    with client(sandbox) as c:
        accepted = c.send_parametric("p1", "Ciao ${Name}!", [{"recipient": NUMBERS[0], "Name": "Anna"}])
    assert accepted.existing and sandbox.state.calls["POST paramsms"] == 1
    assert sandbox.state.summary()["twice"] == []


def test_a_received_sms_without_the_expected_fields_is_logged_and_skipped(sandbox, caplog):
    sandbox.state.receive("+393471234567", "Sì")
    renamed = sandbox.state.receive("+393471234568", "No")
    renamed["from"] = renamed.pop("sender")
    with client(sandbox) as c:
        replies, more = c.received(timezone.now() - timedelta(minutes=1), timezone.now(), size=2)
    assert [r.text for r in replies] == ["Sì"]
    assert more  # the page was full: the skipped one counts, so no later page is missed
    assert "Skipped a received SMS without 'sender'" in caplog.text and "'from': '+393471234568'" in caplog.text
