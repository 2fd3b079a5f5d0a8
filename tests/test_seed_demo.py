from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from sender.audience.models import Customer, ExternalSubject, ExternalSubjectTypology
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.dev.demo import seed_recipients
from sender.models import MessageTypology
from sender.permissions import can_send
from sender.pipeline.preview import preview

pytestmark = pytest.mark.django_db

EVERYONE = {"recipients.customer": {"filter": ""}}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def email_preview(user):
    return preview(Selection.parse(EVERYONE), user, ["email"], Draft(body="Hello", subject="Hi")).methods[0]


def test_it_creates_the_requested_numbers_of_everything():
    output = seed("--customers", "300", "--subjects", "40")
    assert Customer.objects.count() == 300
    assert ExternalSubject.objects.count() == 40
    assert ExternalSubjectTypology.objects.exists()
    assert ExternalSubject.objects.filter(typology__isnull=True).count() == 0
    assert {"Notice", "Reminder", "Newsletter"} <= set(MessageTypology.objects.values_list("name", flat=True))
    assert Customer.objects.exclude(city="").count() == 300
    assert "Created 300 customers" in output and "Created 40 external subjects" in output


def test_it_defaults_to_500_customers_and_100_subjects():
    seed("--no-users")
    assert (Customer.objects.count(), ExternalSubject.objects.count()) == (500, 100)


def test_it_creates_the_demo_users_with_their_permissions():
    seed("--customers", "10", "--subjects", "0")
    admin = authenticate(username="admin", password="admin")
    staff = authenticate(username="staff", password="staff")
    viewer = authenticate(username="viewer", password="viewer")
    assert admin.is_superuser and admin.is_staff
    assert staff.is_staff and not staff.is_superuser
    assert viewer.is_staff and not viewer.is_superuser
    assert can_send(admin)
    assert can_send(staff)
    assert not can_send(viewer)


def test_it_puts_staff_in_the_first_send_group(settings):
    settings.SENDER = {**settings.SENDER, "SEND_GROUPS": ["Broadcasters", "Other"]}
    seed("--customers", "0", "--subjects", "0")
    assert list(User.objects.get(username="staff").groups.values_list("name", flat=True)) == ["Broadcasters"]


def test_it_leaves_existing_users_alone():
    User.objects.create_user("staff", password="secret-pw-1")
    seed("--customers", "0", "--subjects", "0")
    assert authenticate(username="staff", password="secret-pw-1") is not None
    assert authenticate(username="staff", password="staff") is None


def test_no_users_creates_no_users():
    seed("--customers", "5", "--subjects", "0", "--no-users")
    assert not User.objects.exists()


def test_if_empty_does_nothing_the_second_time():
    seed("--if-empty", "--customers", "50", "--subjects", "5")
    output = seed("--if-empty", "--customers", "50", "--subjects", "5")
    assert Customer.objects.count() == 50
    assert ExternalSubject.objects.count() == 5
    assert User.objects.count() == 3
    assert "nothing to do" in output


def test_it_is_deterministic():
    seed_recipients(100)
    first = list(Customer.objects.order_by("pk").values_list("email", "phone", "city"))
    Customer.objects.all().delete()
    seed_recipients(100)
    assert list(Customer.objects.order_by("pk").values_list("email", "phone", "city")) == first


def test_expected_counts_match_what_the_email_preview_classifies(sender_user):
    counts = seed_recipients(2000)
    assert counts["total"] == 2000 == counts["valid"] + counts["duplicate"] + counts["invalid"]
    assert 0.80 < counts["valid"] / 2000 < 0.90
    assert 0.05 < counts["duplicate"] / 2000 < 0.15
    assert 0.02 < counts["invalid"] / 2000 < 0.08
    p = email_preview(sender_user)
    assert (p.valid, p.duplicate, p.invalid) == (counts["valid"], counts["duplicate"], counts["invalid"])


def test_invalid_addresses_come_in_several_kinds(sender_user):
    seed_recipients(1000)
    reasons = {r.reason.split("”")[-1] for r in email_preview(sender_user).rejected if r.status == "invalid"}
    assert len(reasons) >= 3, reasons  # missing @, empty, bad domain


def test_some_duplicates_differ_only_in_case():
    seed_recipients(1000)
    emails = list(Customer.objects.values_list("email", flat=True))
    lowered = {e.lower() for e in emails if e}
    assert any(e != e.lower() for e in emails)
    assert len(lowered) < len([e for e in emails if e])


def test_seeding_twice_keeps_valid_addresses_unique(sender_user):
    first, second = seed_recipients(500), seed_recipients(500, seed=7)
    p = email_preview(sender_user)
    assert p.valid == first["valid"] + second["valid"]
    assert p.duplicate == first["duplicate"] + second["duplicate"]


def test_custom_mix_is_honoured(sender_user):
    counts = seed_recipients(400, valid=0.5, duplicate=0.25, invalid=0.25)
    assert 150 < counts["valid"] < 250 and counts["invalid"] > 60
    p = email_preview(sender_user)
    assert (p.valid, p.duplicate, p.invalid) == (counts["valid"], counts["duplicate"], counts["invalid"])
