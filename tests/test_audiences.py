"""Saved audiences: a selection saved under a name, shared by every sender, loaded back with
its filter counted again (people who match later are in), renamed or deleted only by its
owner or an administrator, and resolved again when a broadcast is sent."""

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from sender.audience.models import Audience, Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from tests.factories import customers

ROMA = {"recipients.customer": {"filter": "city=Roma", "count": 2}}


def save(client, name="Roma customers", selection=ROMA, described=None):
    return client.post(reverse("sender:audiences"), {
        "name": name, "selection": json.dumps(selection),
        "described": json.dumps(described or {"recipients.customer": "City “Roma”"})})


@pytest.fixture
def roma(db):
    return customers(2, city="Roma") + customers(1, city="Milano", email="m@example.com", phone="+393471299999")


def test_save_then_another_sender_loads_it_with_todays_matches(client, sender_user, perm_user, roma):
    client.force_login(sender_user)
    response = save(client)
    assert response.status_code == 201 and response.json()["message"] == "Saved as “Roma customers”."
    audience = Audience.objects.get()
    assert audience.selection == {"recipients.customer": {"filter": "city=Roma"}} and audience.owner == sender_user
    Customer.objects.create(first_name="New", last_name="Roman", email="new@example.com", city="Roma")

    client.force_login(perm_user)
    listed = client.get(reverse("sender:audiences")).json()["audiences"]
    assert listed == [{"id": audience.pk, "name": "Roma customers", "owner": "sally", "mine": False, "may_delete": False}]
    loaded = client.get(reverse("sender:audience", args=[audience.pk])).json()
    assert loaded["selection"] == {"recipients.customer": {"filter": "city=Roma", "count": 3,
                                                           "described": "City “Roma”"}}
    page = client.get(reverse("sender:compose"))
    assert "Roma customers (sally)" in page.text


def test_a_sent_audience_is_resolved_at_send_time_not_frozen(client, sender_user, roma):
    client.force_login(sender_user)
    save(client)
    Customer.objects.create(first_name="Late", last_name="Comer", email="late@example.com", city="Roma")
    loaded = client.get(reverse("sender:audience", args=[Audience.objects.get().pk])).json()
    broadcast = commit(Selection.parse(loaded["selection"]), sender_user, ["email"], Draft(body="Hi", subject="S"), "k")
    addresses = set(MessageRecipient.objects.filter(message_sent__broadcast=broadcast).values_list("address", flat=True))
    assert addresses == {roma[0].email, roma[1].email, "late@example.com"}


def test_ticked_ids_are_kept_as_ids(client, sender_user, roma):
    client.force_login(sender_user)
    save(client, "Two", {"recipients.customer": {"ids": [roma[0].pk, roma[2].pk]}}, {})
    loaded = client.get(reverse("sender:audience", args=[Audience.objects.get().pk])).json()
    assert loaded["selection"] == {"recipients.customer": {"ids": [str(roma[0].pk), str(roma[2].pk)]}}


def test_only_the_owner_or_an_admin_renames_or_deletes(client, sender_user, perm_user, roma):
    client.force_login(sender_user)
    save(client)
    audience = Audience.objects.get()
    client.force_login(perm_user)
    assert client.post(reverse("sender:audience_rename", args=[audience.pk]), {"name": "Mine now"}).status_code == 403
    assert client.post(reverse("sender:audience_delete", args=[audience.pk])).status_code == 403
    refused = save(client, "Roma customers", {"recipients.customer": {"ids": [roma[2].pk]}})
    assert refused.status_code == 400 and "someone else's audience" in refused.json()["error"]
    assert Audience.objects.get().selection == {"recipients.customer": {"filter": "city=Roma"}}

    client.force_login(sender_user)
    renamed = client.post(reverse("sender:audience_rename", args=[audience.pk]), {"name": "Rome"})
    assert renamed.status_code == 200 and Audience.objects.get().name == "Rome"
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    assert client.post(reverse("sender:audience_delete", args=[audience.pk])).json()["message"] == "“Rome” was deleted."
    assert not Audience.objects.exists()


def test_the_owner_replaces_it_by_saving_under_the_same_name(client, sender_user, roma):
    client.force_login(sender_user)
    save(client)
    again = save(client, "Roma customers", {"recipients.customer": {"filter": "city=Milano"}})
    assert again.status_code == 200 and Audience.objects.get().selection == {"recipients.customer": {"filter": "city=Milano"}}


@pytest.mark.parametrize("name, selection, error", [
    ("", ROMA, "Give the audience a name."),
    ("Nobody", {}, "No recipients selected."),
    ("Bad", {"nope.model": {"ids": [1]}}, "nope.model"),
])
def test_bad_saves_say_why(client, sender_user, name, selection, error):
    client.force_login(sender_user)
    response = save(client, name, selection)
    assert response.status_code == 400 and error in response.json()["error"]
    assert not Audience.objects.exists()


def test_an_audience_that_no_longer_applies_says_so(client, sender_user, db):
    audience = Audience.objects.create(name="Old", selection={"recipients.customer": {"ids": [999999]}}, owner=sender_user)
    client.force_login(sender_user)
    response = client.get(reverse("sender:audience", args=[audience.pk]))
    assert response.status_code == 409 and "“Old” cannot be used any more" in response.json()["error"]


def test_admin_lists_and_validates_audiences(client, db, sender_user):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    response = client.post(reverse("admin:recipients_audience_add"), {
        "name": "Bad", "selection": json.dumps({"recipients.customer": {"filter": 3}}), "described": "{}"})
    assert response.status_code == 200 and "The filter must be a query string." in response.text
    client.post(reverse("admin:recipients_audience_add"), {
        "name": "All", "selection": json.dumps({"recipients.customer": {"filter": ""}}), "described": "{}"})
    assert Audience.objects.get().owner == admin
    assert Permission.objects.filter(codename="delete_audience").exists()
