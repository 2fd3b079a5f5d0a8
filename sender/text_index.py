"""Full-text indexes that SQLite keeps itself: an FTS5 trigram table over some text columns
of a table (external content: no copy of the text), fed by three triggers, so bulk writes
and raw SQL are indexed too.

Django changes a SQLite table by rebuilding it, and the rebuild drops the table's triggers:
after a later migration the index would silently stop following new rows. So the indexes
are mended after every `migrate` (post_migrate): missing triggers are created again and the
index re-reads the table. The broadcasts' index (migration 0008) is mended here; the
recipient models' indexes by sender.audience.textindex.
"""

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

BROADCAST_FTS = "sender_broadcast_fts"


def ensure_sqlite_fts(connection: BaseDatabaseWrapper, table: str, pk: str, columns: list[str], fts: str) -> bool:
    """Create or mend the FTS5 index `fts` over `columns` of `table` (idempotent): a new index,
    new columns (dropped and made again) or missing triggers end with the index re-read
    from the table. Whether anything was made."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    new = ", ".join(f'new."{c}"' for c in columns)
    old = ", ".join(f'old."{c}"' for c in columns)
    triggers = {
        f"{fts}_ai": f'AFTER INSERT ON "{table}" BEGIN '
                     f'INSERT INTO "{fts}"(rowid, {quoted}) VALUES (new."{pk}", {new}); END',
        f"{fts}_ad": f'AFTER DELETE ON "{table}" BEGIN '
                     f'INSERT INTO "{fts}"("{fts}", rowid, {quoted}) VALUES (\'delete\', old."{pk}", {old}); END',
        f"{fts}_au": f'AFTER UPDATE OF {quoted}, "{pk}" ON "{table}" BEGIN '
                     f'INSERT INTO "{fts}"("{fts}", rowid, {quoted}) VALUES (\'delete\', old."{pk}", {old}); '
                     f'INSERT INTO "{fts}"(rowid, {quoted}) VALUES (new."{pk}", {new}); END',
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name IN (%s, %s, %s, %s)", [fts, *triggers])
        existing = {name for (name,) in cursor.fetchall()}
        if fts in existing:
            cursor.execute("SELECT name FROM pragma_table_info(%s)", [fts])
            if [name for (name,) in cursor.fetchall()] != columns:  # the indexed columns changed
                for name in existing:
                    cursor.execute(f'DROP {"TABLE" if name == fts else "TRIGGER"} IF EXISTS "{name}"')
                existing = set()
        made = False
        if fts not in existing:
            cursor.execute(f'CREATE VIRTUAL TABLE "{fts}" USING fts5({quoted}, content=\'{table}\', '
                           f"content_rowid='{pk}', tokenize='trigram')")
            made = True
        for name, body in triggers.items():
            if name not in existing:  # new, or dropped when a migration rebuilt the table
                cursor.execute(f'CREATE TRIGGER "{name}" {body}')
                made = True
        if made:  # rows written while there was no trigger are indexed now
            cursor.execute(f'INSERT INTO "{fts}"("{fts}") VALUES (\'rebuild\')')
    return made


def restore_triggers(using: str = "default", **kwargs) -> bool:
    """post_migrate receiver: mend the broadcasts' index (SQLite only, once migration 0008
    has made it). Whether anything was re-created."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [BROADCAST_FTS])
        if cursor.fetchone() is None:
            return False
    return ensure_sqlite_fts(connection, "sender_broadcast", "id", ["subject", "body"], BROADCAST_FTS)
