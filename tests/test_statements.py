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
