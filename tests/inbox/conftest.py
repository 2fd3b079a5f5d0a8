"""The inbox's world: two people who read online (each a customer linked to an account),
staff who send to them, and a helper that sends and delivers a stored message for real."""

import io
import uuid
from collections.abc import Sequence

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sender.attachments import store_attachment
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import (
    Broadcast,
    MessageAttachment,
    MessageRecipient,
    MessageTypology,
)
from sender.pipeline import deliver
from sender.pipeline.commit import commit


def person(username: str, email: str) -> tuple[User, Customer]:
    user = User.objects.create_user(username, email, f"pw-{username}-123")
    customer = Customer.objects.create(first_name=username.title(), last_name="Reader", email=email, user=user)
    return user, customer


@pytest.fixture
def rita(db) -> tuple[User, Customer]:
    """Rita reads her messages online: a customer linked to her account."""
    return person("rita", "rita@example.com")


@pytest.fixture
def olga(db) -> tuple[User, Customer]:
    """Olga too; she must never see Rita's messages, nor Rita hers."""
    return person("olga", "olga@example.com")


def send_stored(staff: User, records: Sequence[Customer], *, subject: str = "Notice", body: str = "Hello.",
                attachments: Sequence[MessageAttachment] = (), typology: MessageTypology | None = None,
                methods: Sequence[str] = ("storage",), run: bool = True) -> Broadcast:
    """Commit a broadcast through the real pipeline; with `run`, deliver every batch in-process."""
    selection = Selection.parse({"recipients.customer": {"ids": [c.pk for c in records]}})
    broadcast = commit(selection, staff, list(methods), Draft(body=body, subject=subject, attachments=attachments),
                       uuid.uuid4().hex, typology=typology)
    if run:
        for sent in broadcast.sents.all():
            batches = MessageRecipient.objects.filter(message_sent=sent).values_list("batch", flat=True).distinct()
            for batch in sorted(set(batches)):
                deliver.deliver_batch(sent.pk, batch)
    return broadcast


def png_bytes(size: tuple[int, int] = (400, 300), color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def upload_image(user: User, name: str = "poster.png", **kwargs) -> MessageAttachment:
    return store_attachment(SimpleUploadedFile(name, png_bytes(**kwargs)), user)
