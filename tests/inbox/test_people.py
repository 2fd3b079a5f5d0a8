"""Who a recipient is: the configured field, or a resolver function; and the inbox benchmark
command runs on a small seed."""

import json
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import Q

from sender.audience.models import Customer
from sender.inbox.people import records_for
from tests.factories import customers

pytestmark = pytest.mark.django_db


def by_email(model, user):
    """A resolver: the rows whose email is the user's (customers only)."""
    return Q(email__iexact=user.email) if model is Customer else None


def test_records_come_from_the_user_field(rita, olga, outsider):
    rita_user, rita_record = rita
    ct = ContentType.objects.get_for_model(Customer)
    assert records_for(rita_user) == {ct.pk: [str(rita_record.pk)]}
    assert records_for(outsider) == {}


def test_a_resolver_function_can_say_who_is_who(settings, outsider):
    mine = customers(2, email="otto@example.com")
    customers(1, email="someone@example.com")
    settings.SENDER = {**settings.SENDER, "RECIPIENT_USER": "tests.inbox.test_people.by_email"}
    assert sorted(*records_for(outsider).values()) == sorted(str(c.pk) for c in mine)


def test_no_field_means_no_readers(settings, rita):
    settings.SENDER = {**settings.SENDER, "RECIPIENT_USER": "account"}  # no model has it
    assert records_for(rita[0]) == {}


def test_the_inbox_benchmark_runs(transactional_db):
    out = StringIO()
    call_command("inbox_bench", seed=30, others=1, repeat=1, stdout=out)
    report = json.loads(out.getvalue())
    assert report["stored_for_reader"] == 30
    first_page = report["results"][0]
    assert first_page["case"] == "first page" and first_page["queries"] <= 12
