"""Each recipient row keeps the text its person was sent when placeholders made it differ from
the body: email and storage here (SMS and Telegram beside their sandboxes), the broadcast page,
a recipient's history and the CSV showing it, and a plain broadcast writing nothing more."""

import csv
import io
import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sender.audience import placeholders
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})
BODY = "Dear {{ first_name }},\nthe office is closed on Friday."


def send(user, methods, body=BODY, subject="Closed"):
    return commit(EVERYONE, user, list(methods), Draft(body=body, subject=subject), uuid.uuid4().hex)


def kept(broadcast, method) -> dict[str, str]:
    """address (recipient id, for storage) → the text kept on the row."""
    rows = MessageRecipient.objects.filter(message_sent__broadcast=broadcast, message_sent__method=method)
    return {row.object_id if method == "storage" else row.address: row.text for row in rows}


def test_each_email_row_keeps_exactly_the_text_that_arrived(sender_user, smtp_server, run_worker):
    people = customers(3)
    broadcast = send(sender_user, ["email"])
    run_worker()
    arrived = {m["To"]: m.get_body(("plain",)).get_content().replace("\r\n", "\n") for m in smtp_server.messages}
    texts = kept(broadcast, "email")
    assert texts == {c.email: f"Dear {c.first_name},\nthe office is closed on Friday." for c in people}
    assert arrived == {address: text + "\n" for address, text in texts.items()}  # the message ends its last line


def test_each_stored_row_keeps_its_readers_text(sender_user, run_worker):
    people = customers(2)
    broadcast = send(sender_user, ["storage"], body=r"Hi {{ first_name }}, code \{{ x }}")
    run_worker()
    assert kept(broadcast, "storage") == {str(c.pk): f"Hi {c.first_name}, code {{{{ x }}}}" for c in people}


def test_a_broadcast_without_placeholders_keeps_no_text_and_writes_nothing_more(sender_user, smtp_server, run_worker):
    customers(3)
    broadcast = send(sender_user, ["email", "storage"], body="Closed on Friday.")
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    assert set(kept(broadcast, "email").values()) == {""} and set(kept(broadcast, "storage").values()) == {""}
    assert not [q for q in queries.captured_queries if '"text"' in q["sql"] and q["sql"].startswith("UPDATE")]
    assert len(smtp_server.messages) == 3


def test_the_broadcast_page_shows_each_recipients_own_text_escaped(client, sender_user, smtp_server, run_worker):
    carla = Customer.objects.create(first_name="Carla", last_name="Verdi", email="carla@example.com")
    bold = Customer.objects.create(first_name="<b>Bo</b>", last_name="Rossi", email="bo@example.com")
    broadcast = send(sender_user, ["email"])
    run_worker()
    client.force_login(sender_user)
    page = client.get(reverse("sender:broadcast", args=[broadcast.pk])).text
    carla_row = page[page.index(f'data-row="{MessageRecipient.objects.get(address=carla.email).pk}"'):]
    carla_row = carla_row[:carla_row.index("</tr>")]
    assert "What they received" in carla_row and "Dear Carla,\nthe office is closed on Friday." in carla_row
    assert "Dear &lt;b&gt;Bo&lt;/b&gt;," in page and "<b>Bo</b>" not in page

    history = client.get(reverse("sender:recipient_history", args=["recipients.customer", bold.pk])).text
    assert "Dear &lt;b&gt;Bo&lt;/b&gt;," in history and "Dear Carla" not in history


def test_a_plain_broadcasts_rows_show_no_own_text(client, sender_user, smtp_server, run_worker):
    customers(2)
    broadcast = send(sender_user, ["email"], body="Closed on Friday.")
    run_worker()
    client.force_login(sender_user)
    assert "What they received" not in client.get(reverse("sender:broadcast", args=[broadcast.pk])).text


def test_the_csv_carries_each_rows_text(client, sender_user, smtp_server, run_worker):
    people = customers(2)
    broadcast = send(sender_user, ["email"], body="=Hi {{ first_name }}")
    run_worker()
    client.force_login(sender_user)
    response = client.get(reverse("sender:broadcast_csv", args=[broadcast.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    # A text starting with "=" would run as a formula in a spreadsheet: defused like every cell.
    assert {r["address"]: r["text"] for r in rows} == {c.email: f"'=Hi {c.first_name}" for c in people}


def test_keep_texts_writes_only_rows_whose_text_differs_in_chunks(sender_user, monkeypatch):
    people = customers(7)
    broadcast = send(sender_user, ["storage"])
    rows = list(MessageRecipient.objects.filter(message_sent__broadcast=broadcast).order_by("id"))
    monkeypatch.setattr(placeholders, "KEEP_CHUNK", 3)
    texts = {row.id: f"Dear {p.first_name} ’quoted' \\ \t tab" for row, p in zip(rows, people, strict=True)}
    texts[rows[0].id] = BODY  # the body itself: nothing to keep
    with CaptureQueriesContext(connection) as queries:
        assert placeholders.keep_texts(BODY, texts) == 6
    assert len(queries.captured_queries) == 2  # six rows, three at a time
    assert dict(MessageRecipient.objects.filter(pk__in=texts).values_list("id", "text")) == {
        **texts, rows[0].id: ""}
