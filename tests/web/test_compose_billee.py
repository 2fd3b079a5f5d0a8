"""Billing a broadcast to someone from the dashboard: the compose form offers the models a
billee may come from and searches them, the preview and the broadcast say who pays, the
server refuses a billee the sender may not name, a scheduled broadcast keeps its billee until
it starts, and a test sent to myself is billed to nobody."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import Broadcast
from sender.pipeline.models import ScheduledBroadcast
from sender.pipeline.scheduling import schedule
from tests.factories import customers
from tests.testapp.models import School

EVERYONE = json.dumps({"recipients.customer": {"filter": ""}})
COMPOSE, PREVIEW, SEARCH = reverse("sender:compose"), reverse("sender:preview"), reverse("sender:billee_search")


@pytest.fixture
def schools(settings, request):
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    settings.SENDER = {**settings.SENDER, "BILLEE_MODELS": ["testapp.School"]}
    return School.objects.create(name="Acme School"), School.objects.create(name="Brill Academy")


@pytest.fixture
def staff(client, sender_user):
    client.force_login(sender_user)
    return client


def message(**data) -> dict:
    return {"selection": EVERYONE, "methods": ["storage"], "body": "Hello", "idempotency_key": "bill-1", **data}


def radios(html: str) -> list[str]:
    """The values of the billee radio buttons, in page order."""
    return re.findall(r'type="radio" name="billee" value="([^"]*)"', html)


def test_the_compose_page_offers_every_billee_model_and_nobody_by_default(staff, schools):
    page = staff.get(COMPOSE)
    assert page.status_code == 200
    assert '<option value="recipients.customer">Customers</option>' in page.text
    assert '<option value="testapp.school">Schools</option>' in page.text
    assert radios(page.text) == [""]  # nobody, chosen
    assert 'name="billee" value="" checked' in page.text


def test_the_search_finds_billees_by_name_and_only_customers_the_sender_may_see(staff, schools, perm_user):
    acme, _brill = schools
    [mine] = customers(1, first_name="Marta", last_name="Rossi")
    customers(1, first_name="Marco", last_name="Rossi", owner=perm_user, email="x@example.com")  # paul's
    found = staff.get(SEARCH, {"billee_model": "recipients.customer", "billee_q": "rossi"})
    assert radios(found.text) == ["", f"recipients.customer:{mine.pk}"]
    assert "Marta Rossi" in found.text and "Marco" not in found.text
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "acme"})
    assert radios(found.text) == ["", f"testapp.school:{acme.pk}"]
    nothing = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "zzz"})
    assert radios(nothing.text) == [""] and "Nothing matches this search." in nothing.text
    assert radios(staff.get(SEARCH, {"billee_model": "auth.user", "billee_q": "sally"}).text) == [""]


def test_a_search_the_form_refuses_says_why_and_keeps_the_choice(staff, schools):
    acme, _brill = schools
    chosen = f"testapp.school:{acme.pk}"
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": " ".join("w" * 11), "billee": chosen})
    assert found.status_code == 200 and "Search for at most 10 words." in found.text
    assert radios(found.text) == ["", chosen]
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "ac\x00me"})
    assert found.status_code == 200 and "cannot be stored" in found.text and radios(found.text) == [""]


def test_the_chosen_billee_stays_chosen_through_another_search(staff, schools):
    acme, brill = schools
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "brill", "billee": f"testapp.school:{acme.pk}"})
    assert radios(found.text) == ["", f"testapp.school:{acme.pk}", f"testapp.school:{brill.pk}"]
    assert f'value="testapp.school:{acme.pk}" checked' in found.text and 'value="" checked' not in found.text


def test_a_long_list_of_matches_says_how_many_more_there_are(staff, schools):
    School.objects.bulk_create(School(name=f"Scuola {n}") for n in range(14))
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "scuola"})
    assert len(radios(found.text)) == 1 + 10
    assert "4 more matches: add a word to the search." in found.text


def test_preview_names_the_billee_and_send_bills_the_broadcast_to_it(staff, schools):
    acme, _brill = schools
    customers(2)
    choice = f"testapp.school:{acme.pk}"
    preview = staff.post(PREVIEW, message(billee=choice))
    assert preview.status_code == 200 and 'data-ok="1"' in preview.text
    assert "Billed to Acme School" in preview.text
    assert "Billed to" not in staff.post(PREVIEW, message()).text
    response = staff.post(COMPOSE, message(billee=choice))
    broadcast = Broadcast.objects.get()
    assert response.status_code == 302 and response["Location"] == broadcast.get_absolute_url()
    assert broadcast.billee == acme
    assert "billed to Acme School" in staff.get(broadcast.get_absolute_url()).text


def test_a_billee_the_sender_may_not_name_is_refused_and_nothing_is_sent(staff, schools, perm_user):
    customers(2)
    [pauls] = customers(1, first_name="Marco", owner=perm_user, email="x@example.com")
    for value, says in [(f"recipients.customer:{pauls.pk}", "There is no customer"),
                        ("auth.user:1", "is not something a message can be billed to"),
                        ("testapp.school:999999", "There is no school 999999 to bill"),
                        ("Acme School", "Choose who to bill from the list.")]:
        preview = staff.post(PREVIEW, message(billee=value))
        assert says in preview.text and 'data-ok="1"' not in preview.text
        response = staff.post(COMPOSE, message(billee=value))
        assert response.status_code == 400 and says in response.text
        assert 'id="id_billee_error"' in response.text
        assert radios(response.text) == [""]  # the refused billee is not offered back
    assert not Broadcast.objects.exists()


def test_a_page_sent_back_with_an_error_keeps_the_chosen_billee_and_where_it_was_found(staff, schools):
    _acme, brill = schools
    customers(1)
    response = staff.post(COMPOSE, message(billee=f"testapp.school:{brill.pk}", body=""))
    assert response.status_code == 400 and "Write the message first." in response.text
    assert radios(response.text) == ["", f"testapp.school:{brill.pk}"]
    assert f'value="testapp.school:{brill.pk}" checked' in response.text
    assert '<option value="testapp.school" selected>' in response.text


def test_a_scheduled_broadcast_keeps_its_billee_shows_it_and_starts_billed_to_it(staff, schools, run_worker,
                                                                                  admin_client):
    _acme, brill = schools
    customers(3)
    when = timezone.now() + timedelta(hours=2)
    local = timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")
    response = staff.post(COMPOSE, message(billee=f"testapp.school:{brill.pk}", send_at=local))
    scheduled = ScheduledBroadcast.objects.get()
    assert response.status_code == 302 and scheduled.billee == brill
    assert '<td class="billee">Brill Academy</td>' in staff.get(reverse("sender:schedules_page")).text
    assert "Billed to Brill Academy." in staff.get(scheduled.get_absolute_url()).text
    admin_page = admin_client.get(reverse("admin:sender_pipeline_scheduledbroadcast_changelist"))
    assert admin_page.status_code == 200 and "<td class=\"field-billed_to\">Brill Academy</td>" in admin_page.text
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledBroadcast.Status.STARTED
    assert scheduled.broadcast.billee == brill and scheduled.broadcast.sents.get().delivered_count == 3


def test_a_scheduled_broadcast_whose_billee_was_deleted_fails_instead_of_billing_nobody(staff, schools, run_worker):
    acme, _brill = schools
    acme_id = acme.pk
    customers(1)
    when = timezone.now() + timedelta(hours=1)
    staff.post(COMPOSE, message(billee=f"testapp.school:{acme.pk}",
                                send_at=timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")))
    acme.delete()
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    scheduled = ScheduledBroadcast.objects.get()
    assert scheduled.status == ScheduledBroadcast.Status.FAILED
    assert scheduled.error == f"The billee (school {acme_id}) no longer exists."
    assert not Broadcast.objects.exists()


def test_a_test_to_myself_is_billed_to_nobody_whatever_the_form_says(staff, schools, smtp_server):
    acme, _brill = schools
    response = staff.post(reverse("sender:send_test"), message(
        methods=["email"], subject="Try", billee=f"testapp.school:{acme.pk}"))
    assert response.status_code == 200 and "Sent to sally@example.com." in response.text
    test = Broadcast.objects.get()
    assert test.origin == Broadcast.Origin.TEST and test.billee_type is None and test.billee_id == ""


def test_the_billee_box_speaks_italian(staff, schools, settings):
    staff.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    page = staff.get(COMPOSE)
    assert "Addebita a" in page.text and "Cerca tra" in page.text and "Nessuno" in page.text
    School.objects.bulk_create(School(name=f"Scuola {n}") for n in range(11))
    found = staff.get(SEARCH, {"billee_model": "testapp.school", "billee_q": "scuola"})
    assert "Ancora 1 risultato: aggiungi una parola alla ricerca." in found.text


def test_the_schedule_list_names_billees_in_a_fixed_number_of_queries(staff, schools, sender_user):
    acme, brill = schools
    [carla] = customers(1, first_name="Carla")
    when = timezone.now() + timedelta(days=1)

    def plan(n: int, billee) -> None:
        schedule(Selection.parse(json.loads(EVERYONE)), sender_user, ["storage"], Draft(body=f"Note {n}"), when,
                 f"plan-{n}", billee=billee)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(reverse("sender:schedules_page")).status_code == 200
        return len(captured)

    plan(0, acme)
    few = queries()
    for n, billee in enumerate([brill, carla, acme, None, carla], start=1):
        plan(n, billee)
    page = staff.get(reverse("sender:schedules_page")).text
    assert page.count('<td class="billee">Acme School</td>') == 2 and page.count('<td class="billee">Carla Last0</td>') == 2
    assert queries() <= few + 1  # one more billee model (customers), not one query per row
