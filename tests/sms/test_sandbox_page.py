"""The SMS sandbox's page (issues 16.9, 18.6): a person sees the SMS arrive and reports them
delivered or failed, or answers them, for Skebby (read by Sender's polling) and for the other
kinds it plays (pushed to Sender's hooks with the gateway's secret)."""

import re
from decimal import Decimal

import httpx

from sender.channels.sms.models import SmsGateway
from sender.channels.sms.samples import TWILIO, VONAGE
from sender.dev.sandboxes import push_targets
from sender.models import IncomingMessage, MessageRecipient
from tests.factories import customers
from tests.sms.conftest import sms_settings, time_passes
from tests.sms.test_delivery import send, settle

Status = MessageRecipient.Status
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def sandbox_base(skebby) -> str:
    return skebby.url.split("/API/")[0]


def page(skebby) -> str:
    response = httpx.get(f"{sandbox_base(skebby)}/_sandbox/", headers=BROWSER)
    policy = response.headers["Content-Security-Policy"]
    assert response.status_code == 200 and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert "<script" not in response.text and "<style" not in response.text and " style=" not in response.text
    return response.text


def sms_id(html: str, number: str) -> str:
    return re.search(rf'<tr data-sms="(\d+)"><td>{re.escape(number)}</td>', html)[1]


def act(skebby, **form) -> httpx.Response:
    return httpx.post(f"{sandbox_base(skebby)}/_sandbox/", data=form, follow_redirects=False)


def test_skebby_sms_are_listed_and_reports_from_the_page_reach_the_rows(sender_user, skebby, run_worker):
    a, b = customers(2)
    sent = send(sender_user, body="Negozio chiuso")
    settle(run_worker)
    html = page(skebby)
    assert html.count("Negozio chiuso") == 2 and a.phone in html and b.phone in html
    assert httpx.get(f"{sandbox_base(skebby)}/_sandbox/").json()["messages"] == 2  # JSON for other clients

    done = act(skebby, action="report", sms=sms_id(html, a.phone), word="DLVRD")
    assert done.status_code == 303 and done.headers["Location"] == "/_sandbox/"
    act(skebby, action="report", sms=sms_id(html, b.phone), word="BLACKLISTED")
    act(skebby, action="reply", sms=sms_id(html, a.phone), text="Grazie!")
    time_passes(0)  # the sandbox's own clock stays: only the page's reports move the orders
    run_worker()
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "status"))
    assert rows == {a.phone: Status.DELIVERED, b.phone: Status.FAILED}
    assert IncomingMessage.objects.get().text == "Grazie!"
    after = page(skebby)
    assert "delivered (DLVRD)" in after and "failed (BLACKLISTED)" in after and "reply: Grazie!" in after


def test_the_sandbox_plays_twilio_and_vonage_and_pushes_to_the_hooks(sender_user, skebby, settings, monkeypatch,
                                                                     run_worker, live_server):
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    monkeypatch.setenv("VONAGE_SECRET", "vsecret")
    monkeypatch.setenv("PUSH_KEY", "push-key")
    settings.SENDER = sms_settings(settings, "http://127.0.0.1:9/", backend="gateways")
    base = sandbox_base(skebby)
    SmsGateway.objects.create(name="twilio", **{**TWILIO, "url": TWILIO["url"].replace("https://api.twilio.com", base)},
                              username="AC123", secret_env="TWILIO_TOKEN", push_secret_env="PUSH_KEY",
                              sender_id="Shop", prefixes="+393471200000 +393471200001", priority=1, price_per_segment=Decimal("0.0075"))
    SmsGateway.objects.create(name="vonage", **{**VONAGE, "url": VONAGE["url"].replace("https://rest.nexmo.com", base)},
                              username="vkey", secret_env="VONAGE_SECRET", push_secret_env="PUSH_KEY",
                              sender_id="Shop", priority=2)
    skebby.state.targets = push_targets(live_server.url)
    people = customers(4)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    assert skebby.calls("POST twilio") + skebby.calls("POST vonage") == 4
    assert skebby.state.received == {p.phone: 1 for p in people}
    html = page(skebby)
    kinds = {a.number: a.kind for a in skebby.state.arrived}
    assert set(kinds.values()) == {"twilio", "vonage"}, kinds  # the prefix sends some each way
    assert 'gateway “twilio”' in html and 'gateway “vonage”' in html

    for person in people:
        word = "delivered" if kinds[person.phone] == "twilio" else "rejected"
        assert act(skebby, action="report", sms=sms_id(html, person.phone), word=word).headers["Location"] \
            == "/_sandbox/"
    replier = people[0]
    act(skebby, action="reply", sms=sms_id(html, replier.phone), text="Sì")
    rows = {r.address: r for r in MessageRecipient.objects.filter(message_sent=sent)}
    for person in people:
        if kinds[person.phone] == "twilio":
            assert rows[person.phone].status == Status.DELIVERED
        else:
            assert (rows[person.phone].status, rows[person.phone].reason) == (
                Status.FAILED, "The gateway reported rejected (rejected by the operator).")
    reply = IncomingMessage.objects.get()
    assert (reply.text, reply.sender, reply.message_sent_id) == ("Sì", replier.phone, sent.pk)


def test_a_push_without_a_secret_is_refused_and_the_page_says_so(sender_user, skebby, settings, monkeypatch,
                                                                 run_worker, live_server):
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    monkeypatch.setenv("PUSH_KEY", "push-key")
    settings.SENDER = sms_settings(settings, "http://127.0.0.1:9/", backend="gateways")
    url = TWILIO["url"].replace("https://api.twilio.com", sandbox_base(skebby))
    SmsGateway.objects.create(name="twilio", **{**TWILIO, "url": url}, username="AC123", secret_env="TWILIO_TOKEN",
                              push_secret_env="PUSH_KEY", sender_id="Shop")
    skebby.state.targets = push_targets(live_server.url)
    person = customers(1)[0]
    send(sender_user, body="Ciao")
    settle(run_worker)
    monkeypatch.setenv("PUSH_KEY", "")  # no secret: the sandbox has nowhere to push
    answer = act(skebby, action="report", sms=sms_id(page(skebby), person.phone), word="delivered")
    assert "notice=No+enabled+gateway" in answer.headers["Location"]
    assert "No enabled gateway with a push secret" in httpx.get(
        f"{sandbox_base(skebby)}{answer.headers['Location']}", headers=BROWSER).text
    assert MessageRecipient.objects.get(address=person.phone).status == Status.SENT


def test_the_fake_twilio_ignores_fields_it_does_not_know_and_refuses_only_what_twilio_does(skebby):
    """Twilio's Messages API has no flash parameter and refuses no unknown field: the SMS is
    taken as an ordinary one (the field lost); a missing To or Body is its 400 with its code."""
    url = f"{sandbox_base(skebby)}/2010-04-01/Accounts/AC123/Messages.json"
    taken = httpx.post(url, data={"To": "+393471234567", "From": "Shop", "Body": "Ciao", "Flash": "true",
                                  "NoSuchField": "x"})
    assert taken.status_code == 201 and taken.json()["sid"].startswith("SM")
    [arrival] = skebby.state.arrived
    assert (arrival.kind, arrival.number, arrival.text, arrival.flash) == ("twilio", "+393471234567", "Ciao", False)
    no_to = httpx.post(url, data={"From": "Shop", "Body": "Ciao", "NoSuchField": "x"})
    no_body = httpx.post(url, data={"To": "+393471234567", "From": "Shop"})
    assert (no_to.status_code, no_to.json()["code"]) == (400, 21604)
    assert (no_body.status_code, no_body.json()["code"]) == (400, 21602)
    assert len(skebby.state.arrived) == 1
