"""The picker's text search goes through an index on both databases (issue 17, item 9) and
finds the same people as the `icontains` scan it replaces."""

from functools import reduce
from operator import or_

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse

from sender.audience import textindex
from sender.audience.filters import filterset_for
from sender.audience.models import Customer
from tests.testapp.models import School, Student

PEOPLE = [
    ("Mario", "Rossi", "mario.rossi@example.com", "+393471234567"),
    ("Maria", "Rossini", "maria@rossini.it", "+393479999999"),
    ("Marco", "Bianchi", "mb@example.org", "+390612345678"),
    ("Anna", "Marini", "anna.marini@example.com", ""),
    ("Élise", "Dupont", "elise@example.fr", "+33123456789"),
    ("Li", "Wu", "li.wu@example.cn", ""),
]
SEARCHES = ["ross", "ROSSI", "mar", "mari ross", "example.com", "347", "Li", "wu li", "dupont", "nobody",
            "mario rossi example", 'quo"te', "a"]


@pytest.fixture
def people(db) -> list[Customer]:
    return Customer.objects.bulk_create(
        Customer(first_name=f, last_name=last, email=e, phone=p) for f, last, e, p in PEOPLE)


def searched(model, text: str) -> set[int]:
    filterset = filterset_for(model)({"q": text}, queryset=model.objects.all())
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("pk", flat=True))


def scanned(model, text: str) -> set[int]:
    """What the plain icontains scan finds: every word in one of the search fields."""
    q = Q()
    for word in text.split():
        q &= reduce(or_, (Q(**{f"{f}__icontains": word}) for f in model.sender_search_fields))
    return set(model.objects.filter(q).values_list("pk", flat=True))


def uses_the_index(queryset) -> bool:
    """EXPLAIN says the query reads the text index (FTS5 on SQLite, a trigram GIN on PostgreSQL)."""
    if connection.vendor == "sqlite":
        return "VIRTUAL TABLE INDEX" in queryset.explain() and "MATCH" in str(queryset.query)
    table = queryset.model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows: the planner would rather scan, or walk the ordering index; the
        # question here is whether the WHERE clause can be answered by the trigram indexes.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.order_by().explain()
    return any(textindex.trigram_index(table, c) in plan for c in textindex.columns(queryset.model))


@pytest.mark.parametrize("text", SEARCHES)
def test_the_index_finds_the_same_people_as_icontains(people, text):
    assert searched(Customer, text) == scanned(Customer, text)


def test_a_word_prefix_finds_the_person_through_the_index(people):
    rossi = Customer.objects.get(last_name="Rossi")
    assert searched(Customer, "Ross mar") == {rossi.pk, Customer.objects.get(last_name="Rossini").pk}
    qs = filterset_for(Customer)({"q": "rossi mario"}, queryset=Customer.objects.all()).qs
    assert uses_the_index(qs)
    assert list(qs) == [rossi]


def test_a_project_model_without_migrations_is_indexed_too(db):
    school = School.objects.create(name="Liceo")
    ada = Student.objects.create(name="Ada Lovelace", school=school)
    Student.objects.create(name="Alan Turing", school=school)
    qs = filterset_for(Student)({"q": "lovel"}, queryset=Student.objects.all()).qs
    assert list(qs) == [ada]
    assert uses_the_index(qs)


def test_the_index_follows_every_write(people):
    rossi = Customer.objects.get(last_name="Rossi")
    Customer.objects.filter(pk=rossi.pk).update(last_name="Verdi")  # one UPDATE, no save() signal
    Customer.objects.filter(last_name="Bianchi").delete()
    (new,) = Customer.objects.bulk_create([Customer(first_name="Giulia", last_name="Rossetti")])
    assert searched(Customer, "verdi") == {rossi.pk}
    assert searched(Customer, "bianchi") == set()
    assert searched(Customer, "rosset") == {new.pk}
    assert searched(Customer, "rossi") == scanned(Customer, "rossi")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="triggers are SQLite's part of the index")
def test_after_a_migration_rebuilt_the_table_migrate_mends_the_index(people):
    with connection.cursor() as cursor:  # what a migration that rebuilds the table does to triggers
        cursor.execute(f'DROP TRIGGER "{textindex.fts_table(Customer)}_ai"')
    (late,) = Customer.objects.bulk_create([Customer(first_name="Late", last_name="Comer")])
    assert searched(Customer, "comer") == set()  # not indexed while the trigger was gone
    textindex.ensure()  # what post_migrate runs at the end of that same migrate
    assert searched(Customer, "comer") == {late.pk}


def test_the_picker_page_searches_through_the_index(client, sender_user, people):
    client.force_login(sender_user)
    page = client.get(reverse("sender:picker", args=["recipients.customer"]), {"q": "rossi mario"})
    assert 'data-total="1"' in page.text
    assert "mario.rossi@example.com" in page.text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's UPPER folds accents for both")
def test_on_sqlite_the_index_also_folds_the_case_of_accented_letters(people):
    elise = Customer.objects.get(last_name="Dupont")
    assert searched(Customer, "élise") == {elise.pk}
    assert scanned(Customer, "élise") == set()  # SQLite's LIKE folds ASCII only
