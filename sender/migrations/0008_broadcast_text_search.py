"""Full-text search over broadcasts' subject and body (sender/search.py): an FTS5 trigram
index kept by triggers on SQLite; trigram GIN indexes under the expressions Django's
`icontains` compiles to on PostgreSQL."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE sender_broadcast_fts USING fts5(subject, body, content='sender_broadcast', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER sender_broadcast_fts_ai AFTER INSERT ON sender_broadcast BEGIN "
    "INSERT INTO sender_broadcast_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END",
    "CREATE TRIGGER sender_broadcast_fts_ad AFTER DELETE ON sender_broadcast BEGIN "
    "INSERT INTO sender_broadcast_fts(sender_broadcast_fts, rowid, subject, body) "
    "VALUES ('delete', old.id, old.subject, old.body); END",
    "CREATE TRIGGER sender_broadcast_fts_au AFTER UPDATE OF subject, body ON sender_broadcast BEGIN "
    "INSERT INTO sender_broadcast_fts(sender_broadcast_fts, rowid, subject, body) "
    "VALUES ('delete', old.id, old.subject, old.body); "
    "INSERT INTO sender_broadcast_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END",
    "INSERT INTO sender_broadcast_fts(sender_broadcast_fts) VALUES ('rebuild')",
]
SQLITE_UNDO = [
    "DROP TRIGGER IF EXISTS sender_broadcast_fts_ai", "DROP TRIGGER IF EXISTS sender_broadcast_fts_ad",
    "DROP TRIGGER IF EXISTS sender_broadcast_fts_au", "DROP TABLE IF EXISTS sender_broadcast_fts",
]
POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS sender_broadcast_subject_trgm ON sender_broadcast "
    "USING gin (UPPER(subject::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS sender_broadcast_body_trgm ON sender_broadcast USING gin (UPPER(body::text) gin_trgm_ops)",
]
POSTGRES_UNDO = ["DROP INDEX IF EXISTS sender_broadcast_subject_trgm", "DROP INDEX IF EXISTS sender_broadcast_body_trgm"]


def run(statements: dict[str, list[str]]):
    def apply(apps, schema_editor) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return apply


class Migration(migrations.Migration):
    # Last on purpose: on SQLite a migration that rebuilds sender_broadcast (AddField, AlterField)
    # drops these triggers; such a migration must come before this one, or re-create them.
    dependencies = [("sender", "0007b_broadcast_origin_test")]

    operations = [
        migrations.RunPython(run({"sqlite": SQLITE, "postgresql": POSTGRES}),
                             run({"sqlite": SQLITE_UNDO, "postgresql": POSTGRES_UNDO})),
    ]
