"""Billing a message to someone (django-sms-gateway's billee): code, the API and the
`broadcast` command name who pays; the cost report groups and invoices by that billee as it
does by sender, and names it on the page, the broadcast page and the admin."""

import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

import sender
from sender.audience.models import Customer
from sender.models import Broadcast, MessageSent
from sender.pipeline.commit import prepare
from tests.api.conftest import ApiClient, api  # noqa: F401 (api: the fixture)
from tests.factories import customers
from tests.history_world import grant
from tests.sms.conftest import skebby  # noqa: F401 (the Skebby sandbox fixture)
from tests.testapp.models import School

REPORT = reverse("sender:report")
INVOICE = reverse("sender:invoice")
GP = Decimal("0.065")  # the default price of one SMS segment, project/settings.py


@pytest.fixture
def billees(settings, request):
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    settings.SENDER = {**settings.SENDER, "BILLEE_MODELS": ["testapp.School"]}
    return School.objects.create(name="Acme School"), School.objects.create(name="Brill Academy")


@pytest.fixture
def texts(skebby, transactional_db, sender_user, billees):
    """Through the Skebby sandbox as sally: 2 texts billed to Acme, 1 to Brill, 1 to nobody."""
    acme, brill = billees
    for n, billee in enumerate([acme, acme, brill, None]):
        row = sender.send_text(f"Reminder {n}", None, f"+39347120000{n}", user=sender_user, billee=billee)
        assert row.status == "sent" and row.cost == GP
    return grant(sender_user, "mark_invoiced")


def by_billee(client) -> list:
    response = client.get(REPORT, {"period": "yearly", "group": "billee"})
    assert response.status_code == 200
    return response


def test_send_text_with_a_billee_is_reported_and_named_per_billee(client, texts):
    client.force_login(texts)
    response = by_billee(client)
    rows = response.context["rows"]
    assert [(r.billee, r.broadcasts, r.messages, r.cost) for r in rows] == [
        ("", 1, 1, GP), ("Acme School", 2, 2, 2 * GP), ("Brill Academy", 1, 1, GP)]
    page = response.text
    assert "Billed to" in page and "Acme School" in page and "Brill Academy" in page
    assert response.context["totals"]["cost"] == 4 * GP


def test_invoicing_a_billee_marks_exactly_that_billees_messages(client, texts, billees):
    acme, _brill = billees
    client.force_login(texts)
    [nobody, acme_row, brill_row] = by_billee(client).context["rows"]
    response = client.post(INVOICE, dict(acme_row.invoice_fields))
    assert response.status_code == 302
    invoiced = MessageSent.objects.filter(invoiced=True)
    assert {s.broadcast.billee for s in invoiced} == {acme} and invoiced.count() == 2
    assert not MessageSent.objects.filter(invoiced=False, broadcast__billee_id=str(acme.pk)).exists()

    client.post(INVOICE, dict(nobody.invoice_fields))  # nobody's row leaves the billees' alone
    assert MessageSent.objects.filter(invoiced=True, broadcast__billee_type__isnull=True).count() == 1
    assert MessageSent.objects.filter(invoiced=False).get().broadcast.billee == _brill
    rows = by_billee(client).context["rows"]
    assert [(r.billee, r.uninvoiced) for r in rows] == [("", 0), ("Acme School", 0), ("Brill Academy", GP)]


def test_the_report_filters_by_billee_and_offers_only_the_visible_ones(client, texts, billees, perm_user):
    acme, _brill = billees
    client.force_login(texts)
    response = client.get(REPORT, {"period": "yearly"})
    choices = dict(response.context["filterset"].form.fields["billee"].choices)
    assert {"Acme School", "Brill Academy", "nobody"} <= set(choices.values())
    value = next(k for k, v in choices.items() if v == "Acme School")
    [row] = client.get(REPORT, {"period": "yearly", "billee": value}).context["rows"]
    assert (row.broadcasts, row.cost) == (2, 2 * GP)
    client.force_login(perm_user)  # paul sees none of sally's sends, nor their billees
    choices = dict(client.get(REPORT).context["filterset"].form.fields["billee"].choices)
    assert "Acme School" not in choices.values()


def test_the_broadcast_page_and_the_admin_name_the_billee(client, texts, billees, admin_user):
    broadcast = Broadcast.objects.filter(billee_id=str(billees[0].pk)).first()
    client.force_login(texts)
    assert "billed to Acme School" in client.get(broadcast.get_absolute_url()).text
    client.force_login(admin_user)
    assert "Acme School" in client.get(reverse("admin:sender_broadcast_changelist")).text
    assert "Acme School" in client.get(reverse("admin:sender_broadcast_change", args=[broadcast.pk])).text


def test_a_billee_changes_the_request_an_idempotency_key_stands_for(skebby, transactional_db, sender_user, billees):
    acme, brill = billees
    sender.send_text("Once", None, "+393471200001", user=sender_user, billee=acme, idempotency_key="bill-1")
    again = sender.send_text("Once", None, "+393471200001", user=sender_user, billee=acme, idempotency_key="bill-1")
    assert Broadcast.objects.count() == 1 and again.message_sent.broadcast.billee == acme
    with pytest.raises(sender.BadMessage):
        sender.send_text("Once", None, "+393471200001", user=sender_user, billee=brill, idempotency_key="bill-1")


# -- the API ------------------------------------------------------------------------------


MESSAGE = {"selection": {"recipients.customer": {"filter": ""}}, "methods": ["storage"], "body": "Closed on Monday."}


def test_the_api_bills_a_broadcast_to_a_named_billee(api, billees):
    customers(2)
    acme, _brill = billees
    response = api.post("/api/v1/broadcasts", {**MESSAGE, "billee": {"model": "testapp.school", "id": acme.pk}},
                        headers={"Idempotency-Key": "b1"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["billee"] == {"model": "testapp.school", "id": str(acme.pk), "name": "Acme School"}
    prepare(body["id"])
    assert Broadcast.objects.get(pk=body["id"]).billee == acme
    assert api.get(f"/api/v1/broadcasts/{body['id']}").json()["billee"]["name"] == "Acme School"
    plain = api.post("/api/v1/broadcasts", MESSAGE, headers={"Idempotency-Key": "b2"}).json()
    assert plain["billee"] is None


@pytest.mark.parametrize("billee, status", [
    ({"model": "testapp.school", "id": 999999}, 422),   # no such school
    ({"model": "auth.user", "id": 1}, 400),             # not a model anyone may be billed from
    ({"model": "testapp.school"}, 400),                 # no id
])
def test_the_api_refuses_a_billee_it_cannot_bill(api, billees, billee, status):
    customers(1)
    response = api.post("/api/v1/broadcasts", {**MESSAGE, "billee": billee}, headers={"Idempotency-Key": "b3"})
    assert response.status_code == status
    assert not Broadcast.objects.exists()


def test_the_api_bills_only_recipients_the_user_may_see(billees, sender_user):
    from sender.api.tokens import create_token

    [customer] = customers(1)
    api = ApiClient(create_token(sender_user, "t")[1])
    ok = api.post("/api/v1/broadcasts", {**MESSAGE, "billee": {"model": "recipients.customer", "id": customer.pk}},
                  headers={"Idempotency-Key": "b4"})
    assert ok.status_code == 201 and ok.json()["billee"]["id"] == str(customer.pk)
    Customer.objects.filter(pk=customer.pk).delete()
    gone = api.post("/api/v1/broadcasts", {**MESSAGE, "billee": {"model": "recipients.customer", "id": customer.pk}},
                    headers={"Idempotency-Key": "b5"})
    assert gone.status_code == 422


# -- the command ----------------------------------------------------------------------------


def test_the_broadcast_command_takes_a_billee(sender_user, billees):
    acme, _brill = billees
    customers(2)
    call_command("broadcast", "--user", "sally", "--method", "storage", "--model", "recipients.customer",
                 "--filter", "", "--body", "Hi", "--billee", f"testapp.school:{acme.pk}",
                 "--idempotency-key", uuid.uuid4().hex)
    assert Broadcast.objects.get().billee == acme
    for bad in ("testapp.school", "testapp.school:999999", "auth.user:1"):
        with pytest.raises(CommandError):
            call_command("broadcast", "--user", "sally", "--method", "storage", "--model", "recipients.customer",
                         "--filter", "", "--body", "Hi", "--billee", bad)
    assert Broadcast.objects.count() == 1


def test_the_report_csv_names_the_billees(client, texts):
    client.force_login(texts)
    response = client.get(REPORT, {"period": "yearly", "group": "billee", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    year = lines[1].split(",")[0]
    assert lines[0].startswith("period,billed to,broadcasts,messages")
    one, two = f"{GP:.4f}", f"{2 * GP:.4f}"
    assert lines[1:] == [f"{year},,1,1,1,0,0,{one},{one}", f"{year},Acme School,2,2,2,0,0,{two},{two}",
                         f"{year},Brill Academy,1,1,1,0,0,{one},{one}"]
    assert "format=csv" in client.get(REPORT, {"group": "billee"}).text
