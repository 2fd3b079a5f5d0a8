"""Writing recipient rows fast: prepared tuples, streamed by COPY on PostgreSQL and by one
`executemany` per chunk elsewhere (SQLite).

Profiled at 100,000 rows, `bulk_create` spent 75% of commit time preparing values field by
field and row by row (11.6 s; SQLite itself about 4%). Here the constant columns are
prepared once per broadcast and each row is a plain tuple (1.6 s for the same rows). On
PostgreSQL an INSERT per row, even batched, costs a round of parse/plan/execute each; COPY
streams the same tuples in one statement per chunk (see BENCHMARKS.md).
"""

import time
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.db import connections, router
from django.utils import timezone

from sender.models import MessageRecipient

VARYING = ("message_sent", "content_type", "object_id", "address", "status", "reason", "code", "segments", "batch")
CONSTANT = ("gateway_ref", "cost", "attempts", "is_sender", "created_at", "updated_at")


class RowWriter:
    def __init__(self) -> None:
        self.alias = router.db_for_write(MessageRecipient)
        connection = connections[self.alias]
        meta = MessageRecipient._meta
        now = timezone.now()
        values = {"gateway_ref": "", "cost": Decimal(0), "attempts": 0, "is_sender": False,
                  "created_at": now, "updated_at": now}
        self.constant = tuple(meta.get_field(name).get_db_prep_save(values[name], connection) for name in CONSTANT)
        self.code_field = meta.get_field("code")
        self.connection = connection
        columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in VARYING + CONSTANT)
        placeholders = ", ".join(["%s"] * (len(VARYING) + len(CONSTANT)))
        table = connection.ops.quote_name(meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN" if connection.vendor == "postgresql" else ""

    def row(self, sent_id: int, content_type_id: int, object_id: str, address: str, status: str, reason: str,
            segments: int, batch: int) -> tuple:
        code = self.code_field.get_db_prep_value(uuid.uuid4(), self.connection)
        return (sent_id, content_type_id, object_id, address, status, reason, code, segments, batch, *self.constant)

    def insert(self, rows: Iterable[tuple]) -> None:
        with self.connection.cursor() as cursor:
            if not self.copy_sql:
                cursor.executemany(self.sql, list(rows))
                return
            start = time.monotonic()

            def copy_rows(sql, params, many, context) -> int:
                n = 0
                with cursor.cursor.copy(sql) as copy:  # psycopg 3, under Django's wrapper
                    for n, row in enumerate(rows, 1):
                        copy.write_row(row)
                return n

            # Through the connection's execute wrappers (what counts and watches statements),
            # and into the debug log: Django itself does not see a COPY.
            n = cursor._execute_with_wrappers(self.copy_sql, None, False, copy_rows)
            if self.connection.queries_logged:
                self.connection.queries_log.append(
                    {"sql": f"{self.copy_sql} -- {n} rows", "time": f"{time.monotonic() - start:.3f}"})
