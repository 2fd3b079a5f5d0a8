"""Keeps SQLite's full-text index of broadcasts (migration 0008) fed after any migration.

On SQLite, Django changes a table by rebuilding it, and the rebuild drops the table's
triggers: after a later migration that adds a field to `Broadcast`, new broadcasts would
silently stop reaching the index. Re-creating missing triggers after every `migrate` (and
re-reading the table into the index when any were missing) makes the order of migrations
irrelevant.
"""

from django.db import connections

TRIGGERS = {
    "sender_broadcast_fts_ai":
        "CREATE TRIGGER sender_broadcast_fts_ai AFTER INSERT ON sender_broadcast BEGIN "
        "INSERT INTO sender_broadcast_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END",
    "sender_broadcast_fts_ad":
        "CREATE TRIGGER sender_broadcast_fts_ad AFTER DELETE ON sender_broadcast BEGIN "
        "INSERT INTO sender_broadcast_fts(sender_broadcast_fts, rowid, subject, body) "
        "VALUES ('delete', old.id, old.subject, old.body); END",
    "sender_broadcast_fts_au":
        "CREATE TRIGGER sender_broadcast_fts_au AFTER UPDATE OF subject, body ON sender_broadcast BEGIN "
        "INSERT INTO sender_broadcast_fts(sender_broadcast_fts, rowid, subject, body) "
        "VALUES ('delete', old.id, old.subject, old.body); "
        "INSERT INTO sender_broadcast_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END",
}


def restore_triggers(using: str = "default", **kwargs) -> list[str]:
    """Re-create the index's missing triggers and rebuild the index if any were missing;
    the names of those re-created. A post_migrate receiver; does nothing off SQLite or
    before migration 0008 made the index."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'sender_broadcast_fts%%'")
        present = {name for _type, name in cursor.fetchall()}
        if "sender_broadcast_fts" not in present:
            return []
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(TRIGGERS[name])
        if missing:
            cursor.execute("INSERT INTO sender_broadcast_fts(sender_broadcast_fts) VALUES ('rebuild')")
    return missing
