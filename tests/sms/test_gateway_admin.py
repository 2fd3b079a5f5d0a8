"""The admin of SMS gateways: its own permission, validation on save with the reason, the
samples, secrets kept as environment names, and "send a test SMS" against a loopback fake."""

import json

from django.contrib.auth.models import Permission, User
from django.test import Client

from sender.channels.sms.models import SmsGateway
from sender.channels.sms.samples import TWILIO

ADD = "/admin/sender_sms/smsgateway/add/"
LIST = "/admin/sender_sms/smsgateway/"


def staff(perm: bool) -> Client:
    user = User.objects.create_user(f"staff{int(perm)}", password="pw-staff-123", is_staff=True)
    if perm:
        user.user_permissions.add(Permission.objects.get(codename="manage_smsgateway"))
    client = Client()
    client.force_login(user)
    return client


def form(**changes) -> dict:
    data = {"name": "twilio", "method": "sms", "enabled": "on", "priority": "10", "prefixes": "",
            "price_per_segment": "0.0075", "batch_size": "100", "sender_id": "Shop", "username": "AC123",
            "auth_header": "", "secret_env": "TWILIO_TOKEN", "push_secret_env": "PUSH_KEY", "timeout": "2"}
    for key, value in TWILIO.items():
        data[key] = json.dumps(value) if isinstance(value, dict) else value
    data["per_number"] = "on"
    return {**data, **changes}


def test_only_holders_of_the_permission_see_gateways(db):
    assert staff(perm=False).get(LIST).status_code == 403
    assert staff(perm=True).get(LIST).status_code == 200


def test_a_working_gateway_is_saved_and_a_broken_one_refused_with_the_reason(db):
    client = staff(perm=True)
    broken = client.post(ADD, form(request_template=json.dumps({"To": "{to}", "Body": "{message}"})))
    assert broken.status_code == 200 and "Unknown placeholder {message}" in broken.content.decode()
    unread = client.post(ADD, form(id_path="messages.0.id"))
    assert unread.status_code == 200 and "No message id at “messages.0.id”" in unread.content.decode()
    secret = client.post(ADD, form(secret_env="my token value!"))
    assert "name of an environment variable" in secret.content.decode()
    assert not SmsGateway.objects.exists()
    assert client.post(ADD, form()).status_code == 302
    gateway = SmsGateway.objects.get()
    assert (gateway.secret_env, gateway.status_mapping["delivered"]) == ("TWILIO_TOKEN", ["delivered", ""])


def test_the_add_page_offers_a_provider_sample(db):
    page = staff(perm=True).get(ADD + "?sample=vonage").content.decode()
    assert "https://rest.nexmo.com/sms/json" in page and "messages.0.message-id" in page


def test_send_a_test_sms_shows_the_result(db, twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    url = TWILIO["url"].replace("https://api.twilio.com", twilio.url)
    good = SmsGateway.objects.create(name="twilio", **{**TWILIO, "url": url}, username="AC123", sender_id="Shop",
                                     secret_env="TWILIO_TOKEN")
    client = staff(perm=True)
    action = {"action": "send_test_sms", "_selected_action": [good.pk]}
    assert 'name="number"' in client.post(LIST, action).content.decode()
    done = client.post(LIST, {**action, "number": "+393471234567", "text": "Prova"}, follow=True).content.decode()
    assert "Twilio: sent, message id SM" in done and twilio.received == {"+393471234567": 1}
    monkeypatch.setenv("TWILIO_TOKEN", "wrong")
    refused = client.post(LIST, {**action, "number": "+393471234567", "text": "Prova"}, follow=True).content.decode()
    assert "Twilio: not sent: twilio refused the SMS: Authenticate" in refused
    assert "wrong" not in refused and "s3cret" not in refused


def test_the_form_explains_flash_fields_and_a_test_sms_asked_as_flash_is_refused_where_there_are_none(
        db, twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_TOKEN", "s3cret")
    client = staff(perm=True)
    vonage = client.get(ADD + "?sample=vonage").content.decode()
    assert "Flash SMS fields" in vonage and "message-class" in vonage and "Twilio has no such field" in vonage
    url = TWILIO["url"].replace("https://api.twilio.com", twilio.url)
    gateway = SmsGateway.objects.create(name="twilio", **{**TWILIO, "url": url}, username="AC123", sender_id="Shop",
                                        secret_env="TWILIO_TOKEN")
    action = {"action": "send_test_sms", "_selected_action": [gateway.pk], "number": "+393471234567", "text": "Prova"}
    refused = client.post(LIST, {**action, "flash": "on"}, follow=True).content.decode()
    assert "Twilio: not sent: twilio cannot send flash SMS." in refused and twilio.received == {}
    sent = client.post(LIST, action, follow=True).content.decode()
    assert "Twilio: sent, message id SM" in sent and twilio.received == {"+393471234567": 1}
