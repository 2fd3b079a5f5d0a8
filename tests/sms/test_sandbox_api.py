"""The sandbox speaks Skebby's REST API as documented: paths, headers, codes and bodies."""

from datetime import UTC

import httpx
import pytest

from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState


@pytest.fixture
def sandbox():
    server = SkebbySandbox(state=SkebbyState(step=1.0, session_idle=300, credits={"GP": 10, "TI": 5, "SI": 5})).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            yield server.state, http
    finally:
        server.stop()


def login(http, path="login", password="sandbox") -> dict[str, str]:
    response = http.get(path, params={"username": "sandbox", "password": password})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    user_key, key = response.text.split(";")
    return {"user_key": user_key, "Access_token" if path == "token" else "Session_key": key}


def sms(**body) -> dict:
    return {"message_type": "GP", "message": "Ciao", "recipient": ["+393471234567"], **body}


def test_login_answers_user_key_and_session_key_as_text(sandbox):
    state, http = sandbox
    keys = login(http)
    assert keys["user_key"] == state.user_keys["sandbox"] and len(keys["Session_key"]) > 8


def test_wrong_credentials_are_a_404(sandbox):
    _state, http = sandbox
    assert http.get("login", params={"username": "sandbox", "password": "nope"}).status_code == 404
    assert http.get("token", params={"username": "who", "password": "sandbox"}).status_code == 404


def test_every_call_needs_user_key_and_a_key_matched_case_insensitively(sandbox):
    _state, http = sandbox
    keys = login(http)
    assert http.get("status").status_code == 401
    assert http.get("status", headers={"user_key": keys["user_key"]}).status_code == 401
    assert http.get("status", headers={"user_key": keys["user_key"], "Session_key": "forged"}).status_code == 401
    lower = {"user_key": keys["user_key"], "session_key": keys["Session_key"]}
    assert http.get("status", headers=lower).status_code == 200


def test_an_unknown_user_key_is_a_404_also_where_404_means_an_unknown_order(sandbox):
    _state, http = sandbox
    keys = login(http)
    order_id = http.post("sms", headers=keys, json=sms()).json()["order_id"]
    assert http.get(f"sms/{order_id}", headers=keys).status_code == 200
    wrong = {**keys, "user_key": "UNOSUCHUSER"}
    answer = http.get(f"sms/{order_id}", headers=wrong)
    assert (answer.status_code, answer.json()["error"]) == (404, "User_key not found")
    assert http.get("status", headers=wrong).status_code == 404
    assert http.get("sms/no-such-order", headers=keys).status_code == 404


def test_a_session_dies_after_five_idle_minutes_and_each_call_renews_it(sandbox):
    state, http = sandbox
    keys = login(http)
    state.advance(290)
    assert http.get("checksession", headers=keys).status_code == 200  # renews the window
    state.advance(290)
    assert http.get("status", headers=keys).status_code == 200
    state.advance(301)
    assert http.get("status", headers=keys).status_code == 401


def test_an_access_token_does_not_expire(sandbox):
    state, http = sandbox
    keys = login(http, "token")
    state.advance(30 * 24 * 3600)
    assert http.get("status", headers=keys).status_code == 200


def test_send_answers_201_with_order_id_counts_and_remaining_credit(sandbox):
    state, http = sandbox
    keys = login(http)
    response = http.post("sms", headers=keys, json=sms(recipient=["+393471234567", "393471234568"],
                                                       returnRemaining="true", returnCredits=True,
                                                       message="x" * 200, order_id="mine-1"))
    assert response.status_code == 201
    body = response.json()
    assert (body["result"], body["order_id"], body["total_sent"], body["remaining_credits"]) == ("OK", "mine-1", 4, 6)
    assert body["internal_order_id"]
    assert state.credits["GP"] == 6


@pytest.mark.parametrize("body, words", [
    ({"message": ""}, "Missing required field: message"),
    ({"message_type": "N"}, "Invalid message_type"),
    ({"recipient": "+393471234567"}, "recipient must be a list"),
    ({"encoding": "latin1"}, "Invalid encoding"),
    ({"allowInvalidRecipients": "yes"}, "allowInvalidRecipients must be a boolean"),
    ({"scheduled_delivery_time": "tomorrow"}, "Invalid scheduled_delivery_time"),
    ({"message": "x" * 400, "max_fragments": 2, "truncate": False}, "more than 2 fragments"),
    ({"recipient": ["+393471234567", "not-a-number"]}, "Invalid recipient: not-a-number"),
    ({"message": "x" * 1001}, "too long: 1001 characters, at most 1000 for GP with gsm"),
    ({"message": "€" * 501}, "too long: 1002 characters"),  # extension characters count two
    ({"message": "Ж" * 451, "encoding": "ucs2"}, "too long: 451 characters, at most 450 for GP with ucs2"),
    ({"message": "x" * 161, "message_type": "SI"}, "too long: 161 characters, at most 160 for SI"),
    ({"message": "Ж" * 161, "message_type": "SI", "encoding": "ucs2"}, "at most 160 for SI"),
    ({"order_id": "6f0b7c52-3d4e-4f59-9a51-6f2c0d1e8a77"}, "Invalid order_id"),  # a dashed uuid: 36 characters
    ({"order_id": "ordine 1"}, "Invalid order_id"),
    ({"order_id": "ordine/1"}, "Invalid order_id"),
    ({"order_id": "ordine1\n"}, "Invalid order_id"),
])
def test_bad_input_is_a_400_with_a_short_body(sandbox, body, words):
    _state, http = sandbox
    response = http.post("sms", headers=login(http), json=sms(**body))
    assert response.status_code == 400
    assert response.json()["result"] == "KO" and words in response.json()["error"]


@pytest.mark.parametrize("body", [
    {"message": "x" * 1000}, {"message": "Ж" * 450, "encoding": "ucs2"}, {"message": "x" * 160, "message_type": "SI"},
])
def test_messages_up_to_the_limit_of_their_quality_are_taken(sandbox, body):
    _state, http = sandbox
    assert http.post("sms", headers=login(http), json=sms(**body)).status_code == 201


def test_an_order_id_of_32_letters_digits_dots_dashes_and_underscores_is_taken(sandbox):
    _state, http = sandbox
    order_id = "Ab9._-" + "x" * 26
    response = http.post("sms", headers=login(http), json=sms(order_id=order_id))
    assert (response.status_code, response.json()["order_id"]) == (201, order_id)


def test_allow_invalid_recipients_skips_the_bad_number_which_then_fails(sandbox):
    state, http = sandbox
    keys = login(http)
    state.invalid.add("+393470000000")
    response = http.post("sms", headers=keys, json=sms(recipient=["+393471234567", "+393470000000"],
                                                       allowInvalidRecipients=True))
    assert response.status_code == 201 and response.json()["total_sent"] == 1
    state.advance(10)
    order = http.get(f"sms/{response.json()['order_id']}", headers=keys).json()
    assert {r["destination"]: r["status"] for r in order["recipients"]} == {
        "+393471234567": "DLVRD", "+393470000000": "UNKNRCPT"}


def test_order_states_progress_over_time_and_pinned_numbers_fail(sandbox):
    state, http = sandbox
    keys = login(http)
    state.pin("+393471234568", "BLACKLISTED")
    order_id = http.post("sms", headers=keys, json=sms(recipient=["+393471234567", "+393471234568"])).json()["order_id"]

    def states():
        answer = http.get(f"sms/{order_id}", headers=keys).json()
        assert answer["recipient_number"] == 2
        assert all(len(r["delivery_date"]) == 14 for r in answer["recipients"])
        return [r["status"] for r in answer["recipients"]]

    assert states() == ["WAITING", "WAITING"]
    state.advance(1)
    assert states() == ["SENT", "SENT"]  # handed to the operator: for GP not the end
    state.advance(1)
    assert states() == ["WAIT4DLVR", "BLACKLISTED"]
    state.advance(1)
    assert states() == ["DLVRD", "BLACKLISTED"]
    assert http.get("sms/no-such-order", headers=keys).status_code == 404


@pytest.mark.parametrize("quality", ["TI", "SI"])
def test_only_gp_has_delivery_reports_other_qualities_end_at_sent(sandbox, quality):
    state, http = sandbox
    keys = login(http)
    state.pin("+393471234568", "KO")
    order_id = http.post("sms", headers=keys, json=sms(message_type=quality, recipient=[
        "+393471234567", "+393471234568"])).json()["order_id"]
    seen = set()
    for _ in range(5):
        state.advance(1)
        seen |= {(r["destination"], r["status"]) for r in http.get(f"sms/{order_id}", headers=keys).json()["recipients"]}
    assert seen == {("+393471234567", "SENT"), ("+393471234568", "KO")}


def test_a_scheduled_order_can_be_deleted_only_while_scheduled(sandbox):
    _state, http = sandbox
    keys = login(http)
    later = http.post("sms", headers=keys, json=sms(scheduled_delivery_time="2099-01-01 10:00")).json()["order_id"]
    now = http.post("sms", headers=keys, json=sms()).json()["order_id"]
    assert http.get(f"sms/{later}", headers=keys).json()["recipients"][0]["status"] == "SCHEDULED"
    assert http.delete(f"sms/{now}", headers=keys).status_code == 404
    assert http.delete(f"sms/{later}", headers=keys).status_code == 200
    assert http.get(f"sms/{later}", headers=keys).status_code == 404


def test_status_lists_credit_per_type_and_money_on_request(sandbox):
    _state, http = sandbox
    keys = login(http)
    plain = http.get("status", headers=keys, params={"typeAliases": "true"}).json()
    assert {i["type"]: i["quantity"] for i in plain["sms"]} == {"GP": 10, "TI": 5, "SI": 5}
    assert "money" not in plain
    assert "money" in http.get("status", headers=keys, params={"getMoney": "true"}).json()


def test_status_gives_internal_type_ids_without_type_aliases_or_when_it_ignores_them(sandbox):
    state, http = sandbox
    keys = login(http)
    ids = http.get("status", headers=keys).json()
    assert {i["type"]: i["quantity"] for i in ids["sms"]} == {"N": 10, "L": 5, "LL": 5}
    state.aliases_ignored = True
    anyway = http.get("status", headers=keys, params={"typeAliases": "true"}).json()
    assert {i["type"] for i in anyway["sms"]} == {"N", "L", "LL"}


def test_out_of_credit_is_refused(sandbox):
    _state, http = sandbox
    response = http.post("sms", headers=login(http), json=sms(recipient=[f"+3934712345{i:02d}" for i in range(11)]))
    assert response.status_code == 400 and response.json()["error"] == "Not enough credit"


def test_received_sms_come_once_each(sandbox):
    state, http = sandbox
    keys = login(http)
    state.receive("+393471234567", "Yes")
    state.receive("+393471234568", "No")
    first = http.get("newsrsmsmessage", headers=keys, params={"limit": 1}).json()["smshistory"]
    rest = http.get("newsrsmsmessage", headers=keys).json()["smshistory"]
    assert [m["message"] for m in first + rest] == ["Yes", "No"]
    assert http.get("newsrsmsmessage", headers=keys).json()["smshistory"] == []


def test_faults_can_be_switched_over_http_and_every_request_is_recorded(sandbox):
    state, http = sandbox
    keys = login(http)
    base = str(http.base_url).split("/API/")[0]
    httpx.post(f"{base}/_sandbox/", json={"faults": {"errors": [503], "rate_limited": 1, "retry_after": 7}})
    limited = http.post("sms", headers=keys, json=sms())
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert http.post("sms", headers=keys, json=sms()).status_code == 503
    assert http.post("sms", headers=keys, json=sms()).status_code == 201
    assert state.calls["POST sms"] == 3
    assert [r["path"] for r in state.requests].count("sms") == 3
    assert state.requests[-1]["headers"]["Session_key"] == keys["Session_key"]


def test_the_demo_sandbox_fails_numbers_by_their_ending():
    server = SkebbySandbox(state=SkebbyState(step=1.0, fail_endings={"13": "BLACKLISTED"})).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            keys = login(http)
            order_id = http.post("sms", headers=keys, json=sms(recipient=["+393471234513", "+393471234514"])).json()["order_id"]
            server.state.advance(5)
            answer = http.get(f"sms/{order_id}", headers=keys).json()
    finally:
        server.stop()
    assert [r["status"] for r in answer["recipients"]] == ["BLACKLISTED", "DLVRD"]


def paramsms(**body) -> dict:
    return {"message_type": "GP", "message": "Ciao ${Name}, a ${When}", "recipients": {
        "0": {"recipient": "+393471234567", "Name": "Anna", "When": "lunedì"},
        "1": {"recipient": "+393471234568", "Name": "Bruno", "When": "martedì"}}, **body}


def test_paramsms_replaces_placeholders_per_recipient_and_answers_200(sandbox):
    state, http = sandbox
    keys = login(http)
    response = http.post("paramsms", headers=keys, json=paramsms(order_id="p1", returnRemaining=True))
    assert response.status_code == 200
    assert (response.json()["result"], response.json()["order_id"], response.json()["total_sent"]) == ("OK", "p1", 2)
    assert state.orders["p1"].texts == {"+393471234567": "Ciao Anna, a lunedì", "+393471234568": "Ciao Bruno, a martedì"}
    state.advance(1)
    order = http.get("sms/p1", headers=keys).json()
    assert [r["destination"] for r in order["recipients"]] == ["+393471234567", "+393471234568"]


@pytest.mark.parametrize("body, words", [
    ({"recipients": [{"recipient": "+393471234567", "Name": "Anna", "When": "oggi"}]}, "recipients must be an object"),
    ({"recipients": {"0": {"Name": "Anna", "When": "oggi"}}}, "recipients[0] needs a recipient"),
    ({"recipients": {"0": {"recipient": "+393471234567", "Name": "Anna"}}}, "Missing parameter When (recipient +39"),
    ({"message": "${Name}", "recipients": {"0": {"recipient": "+393471234567", "Name": "x" * 999},
                                           "1": {"recipient": "+393471234568", "Name": "x" * 1001}}},
     "too long: 1001 characters, at most 1000 for GP with gsm encoding (recipient +393471234568)"),
    ({"message": "Ciao ${Name}", "message_type": "SI",
      "recipients": {"0": {"recipient": "+393471234567", "Name": "x" * 156}}}, "at most 160 for SI"),
    ({"order_id": "x" * 33}, "Invalid order_id"),
])
def test_paramsms_refuses_what_breaks_its_rules_with_a_400(sandbox, body, words):
    state, http = sandbox
    response = http.post("paramsms", headers=login(http), json=paramsms(**body))
    assert response.status_code == 400 and words in response.json()["error"]
    assert state.orders == {}


def test_received_history_pages_the_sms_between_two_dates_and_moves_no_read_position(sandbox):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    state, http = sandbox
    keys = login(http)
    for i in range(3):
        state.receive(f"+39347123456{i}", f"reply {i}")
    state.inbox[0].at -= timedelta(hours=2)  # an older one, outside the window
    rome = datetime.now(ZoneInfo("Europe/Rome"))
    window = {"from": (rome - timedelta(hours=1)).strftime("%Y%m%d%H%M%S"), "timezone": "Europe/Rome", "pageSize": 1}

    def page(number):
        answer = http.get("srsmshistory", headers=keys, params={**window, "pageNumber": number})
        assert answer.status_code == 200
        return [(m["message"], m["sms_date"][:8]) for m in answer.json()["smshistory"]]

    today = rome.strftime("%Y%m%d")
    assert [page(1), page(2), page(3)] == [[("reply 1", today)], [("reply 2", today)], []]
    assert page(1) == [("reply 1", today)]  # asked again, answered again
    utc = {**window, "timezone": "UTC", "from": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y%m%d%H%M%S")}
    assert len(http.get("srsmshistory", headers=keys, params={**utc, "pageSize": 10}).json()["smshistory"]) == 2


@pytest.mark.parametrize("params", [{}, {"from": "yesterday"}, {"from": "20260101000000", "to": "soon"},
                                    {"from": "20260101000000", "timezone": "Mars/Olympus"},
                                    {"from": "20260101000000", "pageNumber": "0"}])
def test_received_history_refuses_a_missing_from_and_malformed_values(sandbox, params):
    _state, http = sandbox
    assert http.get("srsmshistory", headers=login(http), params=params).status_code == 400
