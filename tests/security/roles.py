"""The six roles of the access table, and a small world for them to reach for: one of each
kind of object a URL names, owned by the sender."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from sender.api.tokens import create_token
from sender.attachments import store_attachment
from sender.audience.models import Audience, Customer, ExternalSubject
from sender.audience.optout import unsubscribe_token
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.sms.models import SmsGateway
from sender.channels.sms.samples import TWILIO
from sender.models import IncomingMessage, MessageRecipient
from sender.pipeline import deliver
from sender.pipeline.commit import commit
from sender.pipeline.scheduling import schedule

ANON, PLAIN, RECIPIENT, VIEWER, SENDER, ADMIN = ROLES = ("anonymous", "plain", "recipient", "viewer", "sender", "admin")

# Personal data that only staff may ever read.
CUSTOMER_NAME, CUSTOMER_EMAIL = "Carlotta Visibile", "carlotta.private@example.com"
SUPPLIER_NAME, SUPPLIER_VAT = "Fornitore Segreto", "IT99887766554"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def world(db, settings) -> dict:
    """Users of every role (each with an API token) and the objects the URLs name."""
    settings.SENDER = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], "telegram": {
        **settings.SENDER["METHODS"]["telegram"],
        "OPTIONS": {**settings.SENDER["METHODS"]["telegram"]["OPTIONS"], "username": "sender_test_bot"}}}}
    senders, _ = Group.objects.get_or_create(name="Senders")
    users = {
        PLAIN: User.objects.create_user("otto", "otto@example.com", "pw-otto-123"),
        RECIPIENT: User.objects.create_user("rita", "rita@example.com", "pw-rita-123"),
        VIEWER: User.objects.create_user("nina", "nina@example.com", "pw-nina-123", is_staff=True),
        SENDER: User.objects.create_user("sally", "sally@example.com", "pw-sally-123", is_staff=True),
        ADMIN: User.objects.create_superuser("root", "root@example.com", "pw-root-123"),
    }
    users[SENDER].groups.add(senders)
    rita = Customer.objects.create(first_name="Rita", last_name="Reader", email="rita@example.com",
                                   user=users[RECIPIENT])
    customer = Customer.objects.create(first_name=CUSTOMER_NAME.split()[0], last_name=CUSTOMER_NAME.split()[1],
                                       email=CUSTOMER_EMAIL, phone="+393471234567", city="Trieste")
    supplier = ExternalSubject.objects.create(name=SUPPLIER_NAME, email="acct@fornitore.example",
                                              vat_number=SUPPLIER_VAT)
    attachment = store_attachment(SimpleUploadedFile("dot.png", png()), users[SENDER])
    broadcast = commit(Selection.parse({"recipients.customer": {"ids": [rita.pk, customer.pk]}}), users[SENDER],
                       ["storage"], Draft(body="Hello", subject="Notice", attachments=(attachment,)), "world")
    sent = broadcast.sents.get()
    for batch in sorted(set(MessageRecipient.objects.filter(message_sent=sent).values_list("batch", flat=True))):
        deliver.deliver_batch(sent.pk, batch)
    scheduled, _preview = schedule(Selection.parse({"recipients.customer": {"ids": [customer.pk]}}), users[SENDER],
                                   ["storage"], Draft(body="Later"), timezone.now() + timedelta(days=2), "later")
    audience = Audience.objects.create(name="Trieste", selection={"recipients.customer": {"filter": "city=Trieste"}},
                                       owner=users[SENDER])
    tokens = {role: create_token(user, role)[1] for role, user in users.items()}
    SmsGateway.objects.create(name="twilio", **TWILIO, push_secret_env="SENDER_TEST_PUSH_KEY")  # secret never sent
    sms_reply = IncomingMessage.objects.create(method="sms", gateway_id="r1", sender="+393471234567", text="Hours?",
                                               received_at=timezone.now(), message_sent=sent,
                                               content_type=ContentType.objects.get_for_model(customer),
                                               object_id=str(customer.pk))
    return {
        "users": users, "tokens": tokens, "customer": customer, "supplier": supplier, "broadcast": broadcast,
        "sent": sent, "attachment": attachment, "scheduled": scheduled, "audience": audience,
        "sender_token": users[SENDER].api_tokens.get(), "sms_reply": sms_reply, "unsubscribe": unsubscribe_token("email", CUSTOMER_EMAIL),
    }


def client_for(role: str, world: dict) -> Client:
    """A browser logged in as `role` (none for anonymous) that also sends the role's API token."""
    if role == ANON:
        return Client()
    client = Client(headers={"Authorization": f"Bearer {world['tokens'][role]}"})
    client.force_login(world["users"][role])
    return client
