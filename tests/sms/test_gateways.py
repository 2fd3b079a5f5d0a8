"""SMS gateways kept as data: Twilio's and Vonage's documented APIs (loopback fakes) and
Skebby as a kind, failover, push receipts and replies, the admin's checks."""

import hashlib
import hmac
from decimal import Decimal

from sender.channels.sms.models import PendingPush, SmsDispatch, SmsGateway
from sender.channels.sms.samples import TWILIO, VONAGE
from sender.models import IncomingMessage, MessageRecipient, MessageSent
from tests.factories import customers
from tests.sms.conftest import sms_settings, time_passes
from tests.sms.test_delivery import send, settle

Status = MessageRecipient.Status


def make(sample: dict, name: str, url: str, **fields) -> SmsGateway:
    values = {**sample, "url": sample["url"].replace("https://api.twilio.com", url).replace("https://rest.nexmo.com", url)}
    return SmsGateway.objects.create(name=name, sender_id="Shop", push_secret_env="PUSH_KEY", timeout=1,
                                     **{**values, **fields})


def twilio_gateway(url: str, **fields) -> SmsGateway:
    return make(TWILIO, "twilio", url, username="AC123", secret_env="TWILIO_TOKEN",
                price_per_segment=Decimal("0.0075"), **fields)


def vonage_gateway(url: str, **fields) -> SmsGateway:
    return make(VONAGE, "vonage", url, username="vkey", secret_env="VONAGE_SECRET",
                price_per_segment=Decimal("0.0333"), **fields)


def test_twilio_sends_each_number_once_and_pushes_move_the_rows(sender_user, twilio, gateways_method, run_worker,
                                                                  client):
    twilio_gateway(twilio.url)
    people = customers(3)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    rows = {r.address: r for r in MessageRecipient.objects.filter(message_sent=sent)}
    assert twilio.received == {c.phone: 1 for c in people} and twilio.texts == ["Ciao"] * 3
    assert {r.status for r in rows.values()} == {Status.SENT}  # taken by the gateway, not yet confirmed
    dispatches = SmsDispatch.objects.filter(recipient__message_sent=sent)
    assert {(d.gateway.name, d.price) for d in dispatches} == {("twilio", Decimal("0.0075"))}
    assert {r.gateway_ref for r in rows.values()} == {d.provider_id for d in dispatches}

    first, second = (rows[c.phone] for c in people[:2])
    url = "/hooks/sms/twilio/status/?key=push-key"
    assert client.post(url, {"MessageSid": first.gateway_ref, "MessageStatus": "delivered"}).status_code == 200
    client.post(url, {"MessageSid": first.gateway_ref, "MessageStatus": "delivered"})  # duplicated
    client.post(url, {"MessageSid": first.gateway_ref, "MessageStatus": "sent"})  # out of order
    client.post(url, {"MessageSid": first.gateway_ref, "MessageStatus": "undelivered"})  # after the final one
    client.post(url, {"MessageSid": second.gateway_ref, "MessageStatus": "undelivered"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.reason) == (Status.DELIVERED, "")
    assert (second.status, second.reason) == (Status.FAILED, "The gateway reported undelivered (not delivered by "
                                                                 "the carrier).")
    sent.refresh_from_db()
    assert (sent.delivered_count, sent.sent_count, sent.failed_count) == (1, 1, 1)


def test_a_forged_push_gets_403_and_writes_nothing(sender_user, twilio, gateways_method, run_worker, client):
    twilio_gateway(twilio.url)
    customers(1)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    row = MessageRecipient.objects.get(message_sent=sent)
    push = {"MessageSid": row.gateway_ref, "MessageStatus": "failed"}
    assert client.post("/hooks/sms/twilio/status/?key=push-kex", push).status_code == 403
    assert client.post("/hooks/sms/twilio/status/", push, HTTP_X_SENDER_SIGNATURE="sha256=00").status_code == 403
    assert client.post("/hooks/sms/twilio/incoming/?key=nope", {"MessageSid": "SMx", "From": row.address,
                                                                "Body": "STOP"}).status_code == 403
    row.refresh_from_db()
    assert row.status == Status.SENT and not PendingPush.objects.exists() and not IncomingMessage.objects.exists()


def test_a_signed_push_is_accepted(sender_user, twilio, gateways_method, run_worker, client):
    twilio_gateway(twilio.url)
    customers(1)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    row = MessageRecipient.objects.get(message_sent=sent)
    body = f"MessageSid={row.gateway_ref}&MessageStatus=failed".encode()
    signature = "sha256=" + hmac.new(b"push-key", body, hashlib.sha256).hexdigest()
    response = client.generic("POST", "/hooks/sms/twilio/status/", body,
                              content_type="application/x-www-form-urlencoded", HTTP_X_SENDER_SIGNATURE=signature)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.status == Status.FAILED


def test_a_push_for_a_message_not_yet_recorded_is_applied_once_it_is(sender_user, twilio, gateways_method,
                                                                     run_worker, client):
    twilio_gateway(twilio.url)
    customers(1)
    early = {"MessageSid": "SM" + "1".zfill(32), "MessageStatus": "failed"}  # the fake's first sid
    assert client.post("/hooks/sms/twilio/status/?key=push-key", early).status_code == 200
    assert PendingPush.objects.count() == 1
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    row = MessageRecipient.objects.get(message_sent=sent)
    assert (row.gateway_ref, row.status) == (early["MessageSid"], Status.FAILED)
    assert not PendingPush.objects.exists()


def test_vonage_gets_digits_only_and_its_get_receipts_are_read(sender_user, vonage, gateways_method, run_worker,
                                                              client):
    vonage_gateway(vonage.url)
    people = customers(2)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    assert vonage.received == {c.phone: 1 for c in people}
    row = MessageRecipient.objects.filter(message_sent=sent).first()
    assert row.status == Status.SENT and row.gateway_ref.startswith("0A")
    response = client.get("/hooks/sms/vonage/status/", {"key": "push-key", "messageId": row.gateway_ref,
                                                         "status": "rejected", "msisdn": row.address.lstrip("+")})
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.status, row.reason) == (Status.FAILED, "The gateway reported rejected (rejected by the operator).")


def test_no_credit_at_vonage_moves_the_batch_to_twilio(sender_user, twilio, vonage, gateways_method, run_worker):
    vonage_gateway(vonage.url, priority=1)
    twilio_gateway(twilio.url, priority=2)
    vonage.quota = True
    people = customers(4)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    assert vonage.received == {} and twilio.received == {c.phone: 1 for c in people}
    assert set(SmsDispatch.objects.filter(recipient__message_sent=sent).values_list("gateway__name", flat=True)) \
        == {"twilio"}


def test_a_gateway_that_times_out_hands_the_rest_to_the_next_and_no_number_goes_twice(
        sender_user, twilio, vonage, gateways_method, run_worker):
    twilio_gateway(twilio.url, priority=1)
    vonage_gateway(vonage.url, priority=2)
    twilio.hang = 3  # longer than the gateway's 1 s timeout
    people = customers(5)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    both = twilio.received + vonage.received
    assert both == {c.phone: 1 for c in people}  # every number exactly once, counted at the fakes
    assert sum(twilio.received.values()) == 1 and sum(vonage.received.values()) == 4
    rows = MessageRecipient.objects.filter(message_sent=sent)
    by_gateway = dict(SmsDispatch.objects.filter(recipient__message_sent=sent)
                      .values_list("recipient__address", "gateway__name"))
    assert by_gateway == {p.phone: ("twilio" if twilio.received[p.phone] else "vonage") for p in people}
    lost = rows.get(address__in=list(twilio.received))
    assert lost.status == Status.UNKNOWN and "Not sent again" in lost.reason
    assert rows.filter(status=Status.SENT).count() == 4
    assert MessageSent.objects.get(pk=sent.pk).status == MessageSent.Status.DONE


def test_a_gateway_that_just_failed_is_tried_last_by_the_next_batches(sender_user, twilio, vonage, gateways_method,
                                                                       run_worker):
    twilio_gateway(twilio.url, priority=1)
    vonage_gateway(vonage.url, priority=2)
    twilio.hang = 3  # times out once; then it rests instead of costing every batch a timeout
    customers(3)
    send(sender_user, body="Ciao")
    settle(run_worker)
    assert sum(twilio.received.values()) == 1 and sum(vonage.received.values()) == 2
    twilio.hang = 0
    again = send(sender_user, body="Di nuovo")
    settle(run_worker)
    assert sum(twilio.received.values()) == 1 and sum(vonage.received.values()) == 5
    assert MessageRecipient.objects.filter(message_sent=again, status=Status.SENT).count() == 3
    vonage.quota = True  # the resting gateway still takes what the others cannot
    last = send(sender_user, body="Ancora")
    settle(run_worker)
    assert sum(twilio.received.values()) == 4
    assert MessageRecipient.objects.filter(message_sent=last, status=Status.SENT).count() == 3


def test_each_row_costs_the_price_of_the_gateway_that_took_it(sender_user, twilio, vonage, gateways_method,
                                                                run_worker):
    twilio_gateway(twilio.url, priority=1)  # 0.0075 a segment
    vonage_gateway(vonage.url, priority=2)  # 0.0333 a segment
    twilio.hang = 3  # the first number may have gone out at Twilio; the rest fail over to Vonage
    people = customers(5)
    sent = send(sender_user, body="x" * 200)  # two segments each
    settle(run_worker)
    cost = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("address", "cost"))
    at_twilio = next(iter(twilio.received))
    assert cost == {p.phone: Decimal("0.0150") if p.phone == at_twilio else Decimal("0.0666") for p in people}
    sent.refresh_from_db()
    assert sent.cost == Decimal("0.0150") + 4 * Decimal("0.0666")


def test_country_prefixes_route_numbers(sender_user, twilio, vonage, gateways_method, run_worker):
    twilio_gateway(twilio.url, priority=1, prefixes="+41")
    vonage_gateway(vonage.url, priority=2, prefixes="39")
    people = customers(3)  # Italian numbers
    send(sender_user, body="Ciao")
    settle(run_worker)
    assert twilio.received == {} and vonage.received == {c.phone: 1 for c in people}


def test_a_reply_push_is_stored_once_and_linked(sender_user, twilio, gateways_method, run_worker, client):
    twilio_gateway(twilio.url)
    person = customers(1)[0]
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    reply = {"MessageSid": "SMreply1", "From": person.phone, "To": "+15005550006", "Body": "Grazie"}
    for _ in range(2):
        assert client.post("/hooks/sms/twilio/incoming/?key=push-key", reply).status_code == 200
    stored = IncomingMessage.objects.get()
    assert (stored.text, stored.sender, stored.message_sent_id) == ("Grazie", person.phone, sent.pk)


def test_skebby_as_a_gateway_kind_sends_batches_and_fails_over_to_twilio(sender_user, skebby, twilio, settings,
                                                                        monkeypatch, run_worker):
    monkeypatch.setenv("SKEBBY_PASSWORD", "sandbox")
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    settings.SENDER = sms_settings(settings, skebby.url, backend="gateways")
    SmsGateway.objects.create(name="skebby", kind=SmsGateway.Kind.SKEBBY, url=skebby.url, username="sandbox",
                              secret_env="SKEBBY_PASSWORD", batch_size=3, priority=1, price_per_segment=Decimal("0.065"))
    twilio_gateway(twilio.url, priority=2)
    people = customers(7)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    assert skebby.calls("POST sms") == 3 and skebby.state.summary()["messages"] == 7 and twilio.received == {}
    prices = set(SmsDispatch.objects.filter(recipient__message_sent=sent).values_list("gateway__name", "price"))
    assert prices == {("skebby", Decimal("0.0650"))}

    SmsGateway.objects.filter(name="skebby").update(url="http://127.0.0.1:9/")  # nothing listens there
    again = send(sender_user, body="Di nuovo")
    settle(run_worker)
    assert twilio.received == {c.phone: 1 for c in people}
    assert MessageRecipient.objects.filter(message_sent=again, status=Status.SENT).count() == 7


def test_refused_keys_send_the_batch_to_the_next_gateway_not_fail_every_number(
        sender_user, twilio, vonage, gateways_method, run_worker, monkeypatch):
    monkeypatch.setenv("TWILIO_TOKEN", "expired")
    twilio_gateway(twilio.url, priority=1)
    vonage_gateway(vonage.url, priority=2)
    people = customers(3)
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    assert twilio.received == {} and vonage.received == {c.phone: 1 for c in people}
    assert MessageRecipient.objects.filter(message_sent=sent, status=Status.SENT).count() == 3


def test_a_skebby_gateway_kept_in_the_database_has_its_delivery_reports_polled(sender_user, skebby, settings,
                                                                                 monkeypatch, run_worker):
    monkeypatch.setenv("SKEBBY_PASSWORD", "sandbox")
    settings.SENDER = sms_settings(settings, "http://127.0.0.1:9/", backend="gateways")  # not the method's own
    SmsGateway.objects.create(name="skebby", kind=SmsGateway.Kind.SKEBBY, url=skebby.url, username="sandbox",
                              secret_env="SKEBBY_PASSWORD", batch_size=2, price_per_segment=Decimal("0.065"))
    a, b, c = customers(3)
    skebby.state.pin(b.phone, "BLACKLISTED")
    sent = send(sender_user, body="Ciao")
    settle(run_worker)
    rows = MessageRecipient.objects.filter(message_sent=sent)
    assert set(rows.values_list("status", flat=True)) == {Status.SENT} and skebby.calls("POST sms") == 2
    time_passes(200, skebby)
    run_worker()
    assert dict(rows.values_list("address", "status")) == {a.phone: Status.DELIVERED, b.phone: Status.FAILED,
                                                           c.phone: Status.DELIVERED}
    assert rows.get(address=b.phone).reason == "The gateway reported BLACKLISTED (the number is on a blacklist)."
    assert skebby.calls("GET sms") >= 2  # both orders asked about
    sent.refresh_from_db()
    assert (sent.delivered_count, sent.failed_count, sent.status) == (2, 1, MessageSent.Status.DONE)
