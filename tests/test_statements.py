"""Statements written out once (sender.statements) give what the ORM would have given."""

import uuid

from sender.models import Broadcast, MessageRecipient
from sender.statements import Statement, insert
from tests.factories import customers

BUMP = Statement(MessageRecipient, "UPDATE {table} SET {attempts} = {attempts} + %(n)s, {claim} = %(token)s "
                                   "WHERE {id} IN (%(ids)s) RETURNING {columns}",
                 columns=["segments", "claim", "attempts", "address", "code", "created_at"])


def test_returned_rows_hold_each_value_under_its_name_converted_as_the_orm_does(sender_user):
    import sender

    [customer] = customers(1)
    row = sender.send_text("Hi", None, customer, method="storage", queue=True, user=sender_user)
    token = uuid.uuid4()
    # asked in an order unlike the model's fields (from_db reads them in the model's order)
    [got] = BUMP.rows(n=2, token=token, ids=[row.pk])
    stored = MessageRecipient.objects.get(pk=row.pk)
    assert (got.pk, got.attempts, got.segments, got.address) == (row.pk, 2, row.segments, row.address)
    assert (got.claim, got.code, got.created_at) == (token, stored.code, stored.created_at)  # UUIDs, aware datetimes
    assert stored.attempts == 2 and stored.claim == token


def test_insert_saves_the_instance_as_save_would(sender_user):
    broadcast = insert(Broadcast(idempotency_key="k-1", body="Hello", sender=sender_user, selection={"a": [1]}))
    stored = Broadcast.objects.get(pk=broadcast.pk)
    assert not broadcast._state.adding and broadcast.created_at == stored.created_at
    assert (stored.body, stored.sender_id, stored.selection) == ("Hello", sender_user.pk, {"a": [1]})


RENAME = Statement(MessageRecipient, "UPDATE {table} SET {address} = %(address)s WHERE {id} = %(id)s")


def test_execute_many_writes_every_row_whether_given_one_or_several(sender_user):
    """One mapping runs as a plain execute (psycopg pipelines an executemany, dearer for one
    row); several as one executemany: the rows come out the same either way."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import sender

    rows = [sender.send_text("Hi", None, c, method="storage", queue=True, user=sender_user) for c in customers(3)]
    with CaptureQueriesContext(connection) as one:
        RENAME.execute_many([{"id": rows[0].pk, "address": "first"}])
    with CaptureQueriesContext(connection) as several:
        RENAME.execute_many([{"id": rows[1].pk, "address": "second"}, {"id": rows[2].pk, "address": "third"}])
    assert len(one) == 1 and len(several) == 1
    assert not one[0]["sql"].startswith("1 times") and several[0]["sql"].startswith("2 times")
    stored = dict(MessageRecipient.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "address"))
    assert stored == {rows[0].pk: "first", rows[1].pk: "second", rows[2].pk: "third"}
