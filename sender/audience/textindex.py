"""The picker's text search through an index, for any recipient model.

The recipient models belong to the project (and some, like a test app's, have no
migrations), so the index cannot come from a migration of ours. It is kept by the database
itself and created after every `migrate` (the `post_migrate` signal), idempotently, for each
model in `SENDER["RECIPIENT_MODELS"]` whose `sender_search_fields` are all text columns of
its own table:

- SQLite: an FTS5 trigram table `<table>_sender_fts` over those columns (external content,
  no copy of the text), kept by three triggers, so bulk writes and raw SQL are indexed too.
  A word of three characters or more is looked up with MATCH; shorter words are scanned
  for with `icontains`, as before.
- PostgreSQL: one pg_trgm GIN index per column, `<table>_<column>_sender_trgm`, on the very
  expression Django's `icontains` compiles to (`UPPER(column::text)`): the query stays an
  `icontains` and the planner takes the indexes.

Both find what `icontains` finds: each word anywhere inside one of the fields, any case. One
difference on SQLite: FTS5 folds the case of non-ASCII letters too ("élise" finds
"Élise"), where SQLite's LIKE folds ASCII only. A model whose search fields include a
related path ("school__name") or a non-text field keeps the plain `icontains` scan.
"""

import hashlib
import logging
from functools import reduce
from operator import or_

from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Model, Q, TextField
from django.db.models.expressions import RawSQL

from sender.audience.registry import recipient_models
from sender.text_index import ensure_sqlite_fts

logger = logging.getLogger(__name__)
TRIGRAM = 3
"""The shortest word a trigram index can find."""

_ready: dict[tuple[str, str], bool] = {}
"""(database alias, FTS table) → whether it exists: asked once per process, set by `ensure`."""


def columns(model: type[Model]) -> list[str] | None:
    """The columns to index, or None when a search field is not a text column of the model's
    own table (such a model keeps the `icontains` scan)."""
    fields = list(getattr(model, "sender_search_fields", []))
    found = []
    for name in fields:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a related path ("school__name"): not a column of this table
            return None
        if not isinstance(field, CharField | TextField) or field.is_relation or not field.concrete:
            return None
        found.append(field.column)
    return found or None


def fts_table(model: type[Model]) -> str:
    return f"{model._meta.db_table}_sender_fts"


def trigram_index(table: str, column: str) -> str:
    """A PostgreSQL index name under 63 characters, stable for (table, column)."""
    name = f"{table}_{column}_sender_trgm"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(f"{table}.{column}".encode()).hexdigest()[:8]
    return f"{table[:30]}_{column[:10]}_{digest}_sender_trgm"


def search(model: type[Model], words: list[str], using: str = "default") -> Q:
    """Rows whose search fields contain every word (each word in any field, any case)."""
    fields = list(getattr(model, "sender_search_fields", []))
    connection = connections[using]
    indexed: list[str] = []
    if connection.vendor == "sqlite" and _has_fts(model, connection):
        indexed = [w for w in words if len(w) >= TRIGRAM]
    q = Q()
    if indexed:
        table = fts_table(model)
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        q &= Q(pk__in=RawSQL(f'SELECT rowid FROM "{table}" WHERE "{table}" MATCH %s', [match]))
    for word in words:
        if word not in indexed:
            q &= reduce(or_, (Q(**{f"{f}__icontains": word}) for f in fields), Q())
    return q


def _has_fts(model: type[Model], connection: BaseDatabaseWrapper) -> bool:
    key = (connection.alias, fts_table(model))
    if key not in _ready:
        if columns(model) is None or not model._meta.pk.get_internal_type().endswith("AutoField"):
            _ready[key] = False
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [key[1]])
                _ready[key] = cursor.fetchone() is not None
    return _ready[key]


def ensure(using: str = "default") -> None:
    """Create or mend the index of every recipient model on database `using` (idempotent)."""
    connection = connections[using]
    for model in recipient_models().values():
        cols = columns(model)
        if cols is None:
            continue
        try:
            if connection.vendor == "sqlite" and model._meta.pk.get_internal_type().endswith("AutoField"):
                _ensure_sqlite(model, cols, connection)
            elif connection.vendor == "postgresql":
                _ensure_postgres(model, cols, connection)
        except DatabaseError:  # no FTS5 trigram, no pg_trgm rights: search keeps its scan
            logger.warning("No text index for %s: its search scans the table", model._meta.label, exc_info=True)


def _ensure_sqlite(model: type[Model], cols: list[str], connection: BaseDatabaseWrapper) -> None:
    ensure_sqlite_fts(connection, model._meta.db_table, model._meta.pk.column, cols, fts_table(model))
    _ready[(connection.alias, fts_table(model))] = True


def _ensure_postgres(model: type[Model], cols: list[str], connection: BaseDatabaseWrapper) -> None:
    table = model._meta.db_table
    wanted = {trigram_index(table, c): c for c in cols}
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
                       [table, "%\\_sender\\_trgm"])
        for (name,) in cursor.fetchall():
            if name not in wanted:  # a field no longer searched
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        for name, column in wanted.items():
            cursor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                           f'USING gin (UPPER("{column}"::text) gin_trgm_ops)')


def after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: every migrate (and test database) ends with the indexes."""
    ensure(using)
