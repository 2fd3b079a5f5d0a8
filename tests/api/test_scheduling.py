"""Scheduled broadcasts: queued for a time, changeable until then, started by the real
worker when the clock gets there (time-machine moves it)."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sender.models import Broadcast, MessageSent
from sender.pipeline.models import ScheduledBroadcast
from tests.factories import customers
from tests.testapp.models import School

EVERYONE = {"recipients.customer": {"filter": ""}}
MESSAGE = {"selection": EVERYONE, "methods": ["storage"], "subject": "Soon", "body": "Opening on Monday."}


def plan(api, when, key="s1", **message):
    return api.post("/api/v1/schedules", {**MESSAGE, "send_at": when.isoformat(), **message},
                    headers={"Idempotency-Key": key})


def test_a_scheduled_broadcast_waits_and_the_worker_starts_it_on_time(api, run_worker):
    customers(3)
    when = timezone.now() + timedelta(hours=2)
    response = plan(api, when)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "scheduled" and body["time_zone"] == "Europe/Rome"
    assert body["send_at"].endswith("+01:00") or body["send_at"].endswith("+02:00")  # shown in Rome time
    assert body["preview"]["methods"][0]["valid"] == 3  # checked now, like a send
    run_worker()
    assert not Broadcast.objects.exists()  # too early: the task is not ready yet
    with time_machine.travel(when + timedelta(seconds=1), tick=True):
        run_worker()
    scheduled = ScheduledBroadcast.objects.get()
    assert scheduled.status == ScheduledBroadcast.Status.STARTED
    sent = MessageSent.objects.get(broadcast=scheduled.broadcast)
    assert (sent.status, sent.delivered_count) == (MessageSent.Status.DONE, 3)
    assert api.get(f"/api/v1/schedules/{scheduled.pk}").json()["broadcast"] == scheduled.broadcast_id


def test_moving_it_later_keeps_it_waiting_and_the_old_task_does_nothing(api, run_worker):
    customers(1)
    first = timezone.now() + timedelta(hours=1)
    pk = plan(api, first).json()["id"]
    later = first + timedelta(days=1)
    response = api.patch(f"/api/v1/schedules/{pk}", {"send_at": later.isoformat(), "body": "Changed text."})
    assert response.status_code == 200 and response.json()["body"] == "Changed text."
    with time_machine.travel(first + timedelta(minutes=1), tick=True):
        run_worker()
    assert not Broadcast.objects.exists()
    with time_machine.travel(later + timedelta(minutes=1), tick=True):
        run_worker()
    assert Broadcast.objects.get().body == "Changed text."


def test_cancelled_before_it_starts_it_never_sends(api, run_worker):
    customers(1)
    when = timezone.now() + timedelta(hours=1)
    pk = plan(api, when).json()["id"]
    response = api.post(f"/api/v1/schedules/{pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/schedules/{pk}/cancel").status_code == 409
    refused = api.patch(f"/api/v1/schedules/{pk}", {"body": "x"})
    assert refused.status_code == 409 and "can no longer change" in refused.json()["errors"][0]
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    assert not Broadcast.objects.exists()


def test_a_schedule_that_can_no_longer_be_sent_says_why(api, sender_user, run_worker):
    customers(1)
    when = timezone.now() + timedelta(hours=1)
    plan(api, when)
    sender_user.groups.clear()  # lost the right to send in the meantime
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    scheduled = ScheduledBroadcast.objects.get()
    assert scheduled.status == ScheduledBroadcast.Status.FAILED
    assert "permission" in scheduled.error
    assert not Broadcast.objects.exists()


def test_times_in_the_past_or_without_a_zone_are_refused(api):
    customers(1)
    past = plan(api, timezone.now() - timedelta(minutes=1))
    assert past.status_code == 422 and "future" in past.json()["errors"][0]
    naive = api.post("/api/v1/schedules", {**MESSAGE, "send_at": "2099-01-01T09:00:00"},
                     headers={"Idempotency-Key": "n"})
    assert naive.status_code == 400 and "RFC 3339" in naive.json()["errors"][0]
    assert not ScheduledBroadcast.objects.exists() and not DBTaskResult.objects.exists()


def test_the_same_key_schedules_once_and_strangers_get_404(api, api_as, perm_user):
    customers(1)
    when = timezone.now() + timedelta(hours=1)
    pk = plan(api, when).json()["id"]
    again = plan(api, when)
    assert again.status_code == 200 and again.json()["id"] == pk
    assert ScheduledBroadcast.objects.count() == 1
    stranger = api_as(perm_user)
    assert stranger.get(f"/api/v1/schedules/{pk}").status_code == 404
    assert stranger.patch(f"/api/v1/schedules/{pk}", {"body": "mine now"}).status_code == 404
    assert stranger.post(f"/api/v1/schedules/{pk}/cancel").status_code == 404


def test_the_dashboard_lists_edits_in_local_time_and_cancels(api, sender_user, client):
    customers(1)
    when = timezone.now() + timedelta(hours=3)
    pk = plan(api, when).json()["id"]
    client.force_login(sender_user)
    page = client.get(reverse("sender:schedules_page"))
    assert ">Soon<" in page.text and "Europe/Rome" in page.text
    local = timezone.localtime(when + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("sender:schedule", args=[pk]),
                           {"send_at": local, "subject": "Soon", "body": "New words"})
    assert response.status_code == 302
    scheduled = ScheduledBroadcast.objects.get()
    assert scheduled.body == "New words"
    assert timezone.localtime(scheduled.send_at).strftime("%Y-%m-%dT%H:%M") == local
    client.post(reverse("sender:schedule_cancel", args=[pk]))
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledBroadcast.Status.CANCELLED
    assert "Change it before it starts" not in client.get(reverse("sender:schedule", args=[pk])).text


def test_the_dashboard_shows_a_polite_error_for_a_bad_edit(api, sender_user, client):
    customers(1)
    pk = plan(api, timezone.now() + timedelta(hours=3)).json()["id"]
    client.force_login(sender_user)
    response = client.post(reverse("sender:schedule", args=[pk]),
                           {"send_at": "2001-01-01T09:00", "subject": "Soon", "body": "x"})
    assert response.status_code == 400 and "must be in the future" in response.text


def test_the_compose_page_schedules_when_a_time_is_given(sender_user, client):
    import json

    from sender.models import MessageTypology
    from sender.pipeline.models import MessageTemplate

    customers(2)
    MessageTemplate.objects.create(name="Opening", typology=MessageTypology.objects.create(name="Notice"),
                                   subject="Soon", body="Opening on {{ name }}'s day")
    client.force_login(sender_user)
    page = client.get(reverse("sender:compose"))
    assert 'id="template-picker"' in page.text and "Opening on {{ name }}" in page.text
    assert "Europe/Rome" in page.text
    local = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("sender:compose"), {
        "selection": json.dumps(EVERYONE), "methods": ["email"], "subject": "Soon", "body": "Hi {{ first_name }}",
        "idempotency_key": "dash-1", "send_at": local,
    })
    scheduled = ScheduledBroadcast.objects.get()
    assert response.status_code == 302 and response["Location"] == scheduled.get_absolute_url()
    assert timezone.localtime(scheduled.send_at).strftime("%Y-%m-%dT%H:%M") == local
    assert not Broadcast.objects.exists()


# -- the billee: checked as a send checks it, kept until the broadcast starts ---------------


@pytest.fixture
def acme(settings, db) -> School:
    settings.SENDER = {**settings.SENDER, "BILLEE_MODELS": ["testapp.School"]}
    return School.objects.create(name="Acme School")


def test_a_schedule_keeps_its_billee_and_the_broadcast_is_billed_to_it(api, acme, run_worker):
    customers(2)
    when = timezone.now() + timedelta(hours=1)
    named = {"model": "testapp.school", "id": str(acme.pk), "name": "Acme School"}
    response = plan(api, when, billee={"model": "testapp.school", "id": acme.pk})
    assert response.status_code == 201 and response.json()["billee"] == named
    pk = response.json()["id"]
    assert api.get(f"/api/v1/schedules/{pk}").json()["billee"] == named
    assert plan(api, when, key="nobody").json()["billee"] is None
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    broadcast = ScheduledBroadcast.objects.get(pk=pk).broadcast
    assert broadcast.billee == acme
    assert api.get(f"/api/v1/broadcasts/{broadcast.pk}").json()["billee"] == named


@pytest.mark.parametrize("billee, status, words", [
    ({"model": "testapp.school", "id": 999999}, 422, "There is no school 999999 to bill."),
    ({"model": "auth.user", "id": 1}, 400, "“billee.model” must be one of"),
])
def test_a_schedule_refuses_the_billee_a_send_would_refuse(api, acme, billee, status, words):
    customers(1)
    send = api.post("/api/v1/broadcasts", {**MESSAGE, "billee": billee}, headers={"Idempotency-Key": "send"})
    scheduled = plan(api, timezone.now() + timedelta(hours=1), billee=billee)
    assert (scheduled.status_code, send.status_code) == (status, status)
    assert scheduled.json()["errors"] == send.json()["errors"] and words in scheduled.json()["errors"][0]
    assert not ScheduledBroadcast.objects.exists() and not Broadcast.objects.exists()


def test_a_schedule_refuses_a_billee_the_user_may_not_see(api, outsider):
    customers(1)
    [hidden] = customers(1, owner=outsider, email="hidden@example.com", phone="+393471299999")
    response = plan(api, timezone.now() + timedelta(hours=1), billee={"model": "recipients.customer", "id": hidden.pk})
    assert response.status_code == 422 and "to bill" in response.json()["errors"][0]
    assert not ScheduledBroadcast.objects.exists()


def test_changing_a_schedule_changes_its_billee_only_when_asked(api, acme):
    customers(1)
    other = School.objects.create(name="Beta School")
    pk = plan(api, timezone.now() + timedelta(hours=1), billee={"model": "testapp.school", "id": acme.pk}).json()["id"]
    kept = api.patch(f"/api/v1/schedules/{pk}", {"body": "New words."})
    assert kept.status_code == 200 and kept.json()["billee"]["name"] == "Acme School"
    moved = api.patch(f"/api/v1/schedules/{pk}", {"billee": {"model": "testapp.school", "id": other.pk}})
    assert moved.json()["billee"] == {"model": "testapp.school", "id": str(other.pk), "name": "Beta School"}
    refused = api.patch(f"/api/v1/schedules/{pk}", {"billee": {"model": "testapp.school", "id": 999999},
                                                    "body": "Not this."})
    assert refused.status_code == 422 and refused.json()["errors"] == ["There is no school 999999 to bill."]
    assert ScheduledBroadcast.objects.get(pk=pk).billee == other  # nothing of the refused change was kept
    assert ScheduledBroadcast.objects.get(pk=pk).body == "New words."
    cleared = api.patch(f"/api/v1/schedules/{pk}", {"billee": None})
    assert cleared.json()["billee"] is None and ScheduledBroadcast.objects.get(pk=pk).billee is None


def test_a_schedule_whose_billee_was_deleted_fails_and_says_why(api, acme, run_worker):
    customers(1)
    when = timezone.now() + timedelta(hours=1)
    pk = plan(api, when, billee={"model": "testapp.school", "id": acme.pk}).json()["id"]
    acme_pk = acme.pk
    acme.delete()
    with time_machine.travel(when + timedelta(minutes=1), tick=True):
        run_worker()
    body = api.get(f"/api/v1/schedules/{pk}").json()
    assert body["status"] == "failed" and body["broadcast"] is None
    assert body["error"] == f"The billee (school {acme_pk}) no longer exists."
    assert body["billee"] == {"model": "testapp.school", "id": str(acme_pk), "name": ""}
    assert not Broadcast.objects.exists()  # never sent billed to nobody
