"""The inbox and history text search goes through the database's text index (FTS5 trigram on
SQLite, trigram GIN on PostgreSQL), finds the same messages as a scan would, and follows
edits and deletions of broadcasts."""

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.urls import reverse

from sender.inbox.filters import InboxFilterSet
from sender.inbox.messages import received
from sender.inbox.people import records_for
from sender.models import Broadcast, MessageRecipient
from sender.search import broadcast_text
from tests.inbox.conftest import send_stored
from tests.inbox.test_inbox import listed


def test_words_of_every_length_and_punctuation_find_the_right_messages(client, sender_user, rita):
    user, record = rita
    send_stored(sender_user, [record], subject="Gas bill", body='Pay "now": 12 € by the 5th')
    send_stored(sender_user, [record], subject="Água", body="Conta de água: pague até dia 5")
    send_stored(sender_user, [record], subject="Other", body="Nothing to pay")
    client.force_login(user)
    url = reverse("sender:inbox")

    assert listed(client.get(url, {"q": "GAS 12"})) == ["Gas bill"]  # a short word with an indexed one
    assert listed(client.get(url, {"q": '"now":'})) == ["Gas bill"]  # quotes are words, not syntax
    assert listed(client.get(url, {"q": "água"})) == ["Água"]
    assert listed(client.get(url, {"q": "pay"})) == ["Other", "Gas bill"]
    assert listed(client.get(url, {"q": "5th OR"})) == []  # OR is a word here, not an operator


def test_an_edited_or_deleted_broadcast_is_found_by_its_new_words_only(client, sender_user, rita):
    user, record = rita
    broadcast = send_stored(sender_user, [record], subject="Draft title", body="First words")
    client.force_login(user)
    url = reverse("sender:inbox")
    Broadcast.objects.filter(pk=broadcast.pk).update(subject="Final title")

    assert listed(client.get(url, {"q": "final"})) == ["Final title"]
    assert listed(client.get(url, {"q": "draft"})) == []
    MessageRecipient.objects.filter(message_sent__broadcast=broadcast).delete()
    broadcast.sents.all().delete()
    broadcast.delete()
    assert listed(client.get(url, {"q": "title"})) == []


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A tiny table: ask whether the text index *can* serve (no scan of the table, nor
            # of its primary key, left to choose).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.django_db(transaction=False)
def test_the_search_is_answered_by_the_text_index_not_a_scan(sender_user, rita):
    user, record = rita
    send_stored(sender_user, [record], subject="Stored message 4242", body="Body of message 4242.")
    rows = InboxFilterSet({"q": "message 4242"}, queryset=received(records_for(user))).qs

    assert [r.message_sent.broadcast.subject for r in rows] == ["Stored message 4242"]
    if connection.vendor == "sqlite":
        assert "sender_broadcast_fts" in plan(rows)
    # History searches broadcasts themselves: both columns' indexes can answer.
    broadcasts = Broadcast.objects.filter(broadcast_text(["message", "4242"]))
    assert [b.subject for b in broadcasts] == ["Stored message 4242"]
    index = ["sender_broadcast_fts"] if connection.vendor == "sqlite" else [
        "sender_broadcast_subject_trgm", "sender_broadcast_body_trgm"]
    assert all(name in plan(broadcasts) for name in index)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the triggers feed SQLite's FTS5 index only")
@pytest.mark.django_db(transaction=False)
def test_a_later_migration_that_rebuilds_the_table_does_not_stop_the_index(sender_user, rita):
    """Django rebuilds a SQLite table to add a field, which drops its triggers; the next
    `migrate` (its post_migrate signal) puts them back and re-reads what was missed."""
    user, record = rita
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER sender_broadcast_fts_ai")
    send_stored(sender_user, [record], subject="Sent while the trigger was gone", body="Body 5151.")
    assert not Broadcast.objects.filter(broadcast_text(["5151"])).exists()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert [b.subject for b in Broadcast.objects.filter(broadcast_text(["5151"]))] == ["Sent while the trigger was gone"]
    send_stored(sender_user, [record], subject="Sent after", body="Body 6161.")
    assert [b.subject for b in Broadcast.objects.filter(broadcast_text(["6161"]))] == ["Sent after"]
