"""Writing recipient rows fast: prepared tuples, streamed by COPY on PostgreSQL and by one
`executemany` per chunk elsewhere (SQLite).

Profiled at 100,000 rows, `bulk_create` spent 75% of commit time preparing values field by
field and row by row (11.6 s; SQLite itself about 4%). Here the constant columns are
prepared once per broadcast and each row is a plain tuple (1.6 s for the same rows). On
PostgreSQL an INSERT per row, even batched, costs a round of parse/plan/execute each; COPY
streams the same tuples in one statement per chunk (see BENCHMARKS.md).

Profiled again at 100,000 rows on PostgreSQL (BENCHMARKS.md, issue 17): `uuid4()` per row and
psycopg's `write_row` (a dumper call per value) were a third of the Python side, and Python
waited idle while the server wrote each chunk into its indexes. The codes now come from one
`os.urandom` call per thousand rows, each chunk is one block of COPY text built by string
formatting, and `insert(meanwhile=…)` lets the caller prepare the next chunk while a psycopg
thread streams this one and the server absorbs it.
"""

import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from django.db import connections, router
from django.utils import timezone

from sender.models import MessageRecipient

VARYING = ("message_sent", "content_type", "object_id", "address", "status", "reason", "code", "segments", "batch")
CONSTANT = ("gateway_ref", "cost", "attempts", "is_sender", "created_at", "updated_at")
CODES_AT_ONCE = 1024
COPY_FROM = 64
"""Chunks of fewer rows go in by one multi-row INSERT on PostgreSQL: COPY starts a writer
thread and a protocol round of its own, which for one row (a send from code) cost several
times the INSERT (BENCHMARKS.md, issue 15)."""
# COPY's text format: these four characters are written as backslash escapes; NULL is \N.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"
# Version 7 UUIDs (RFC 9562): 48 bits of Unix milliseconds, the version nibble in byte 6, the
# variant bits in byte 8, 74 random bits.
VERSION7 = bytes((b & 0x0F) | 0x70 for b in range(256))
VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
T = TypeVar("T")


def random_codes(n: int, not_before_ms: int = 0) -> list[str]:
    """`n` version-7 UUIDs as 32 hex digits (the form both PostgreSQL's uuid input and
    Django's SQLite storage take), in ascending order, from one `os.urandom` call: uuid4() one
    by one cost a sixth of the commit. Time-ordered codes go in at the right-hand end of the
    unique index on `code` instead of at random places all over it: a commit touches a few
    of its pages, not all of them (fewer page splits, less WAL, a working set that does not
    grow with the table). 74 random bits still make a code unguessable. `not_before_ms`: the
    lowest millisecond to stamp, so that a later call's codes sort after an earlier call's
    even within the same millisecond (RFC 9562's monotonic clock)."""
    raw = bytearray(os.urandom(16 * n))
    millisecond = max(time.time_ns() // 1_000_000, not_before_ms) % (1 << 48)
    for i, byte in enumerate(millisecond.to_bytes(6, "big")):
        raw[i::16] = bytes((byte,)) * n
    raw[6::16] = raw[6::16].translate(VERSION7)
    raw[8::16] = raw[8::16].translate(VARIANT)
    digits = raw.hex()
    return sorted(digits[i:i + 32] for i in range(0, 32 * n, 32))


def copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(COPY_ESCAPES)


class RowWriter:
    def __init__(self) -> None:
        self.alias = router.db_for_write(MessageRecipient)
        connection = connections[self.alias]
        meta = MessageRecipient._meta
        now = timezone.now()
        values = {"gateway_ref": "", "cost": Decimal(0), "attempts": 0, "is_sender": False,
                  "created_at": now, "updated_at": now}
        self.constant = tuple(meta.get_field(name).get_db_prep_save(values[name], connection) for name in CONSTANT)
        self.constant_text = "\t".join(map(copy_text, self.constant))
        self.codes: list[str] = []
        self.more_codes = 16
        self.next_ms = 0
        self.connection = connection
        columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in VARYING + CONSTANT)
        placeholders = ", ".join(["%s"] * (len(VARYING) + len(CONSTANT)))
        table = connection.ops.quote_name(meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN" if connection.vendor == "postgresql" else ""

    def row(self, sent_id: int, content_type_id: int, object_id: str, address: str, status: str, reason: str,
            segments: int, batch: int) -> tuple:
        if not self.codes:  # a few first (a send from code writes one row), then more at a time
            self.codes = random_codes(self.more_codes, self.next_ms)[::-1]
            self.next_ms = int(self.codes[0][:12], 16) + 1  # the next codes sort after these
            self.more_codes = min(self.more_codes * 4, CODES_AT_ONCE)
        code = self.codes.pop()  # the smallest left: ascending, as the index likes
        return (sent_id, content_type_id, object_id, address, status, reason, code, segments, batch, *self.constant)

    def copy_text(self, rows: Iterable[tuple]) -> str:
        """Rows made by `row()` as COPY text. Most chunks hold no character COPY must escape:
        formatted plainly, then checked in four passes over the whole text (a tab, newline,
        return or backslash inside a value would change these counts); otherwise every value
        is escaped, row by row."""
        rows = list(rows)
        suffix = self.constant_text
        text = "".join([f"{r[0]}\t{NULL if r[1] is None else r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t"
                        f"{r[7]}\t{r[8]}\t{suffix}\n" for r in rows])
        columns = len(VARYING) + len(CONSTANT)
        if (text.count("\t") == (columns - 1) * len(rows) and text.count("\n") == len(rows)
                and "\\" not in text and "\r" not in text):
            return text
        return "".join(map(self.copy_line, rows))

    def copy_line(self, row: tuple) -> str:
        """A row made by `row()` as one line of COPY text, every value escaped."""
        sent_id, content_type_id, object_id, address, status, reason, code, segments, batch = row[:9]
        return (f"{sent_id}\t{NULL if content_type_id is None else content_type_id}\t"
                f"{object_id.translate(COPY_ESCAPES)}\t{address.translate(COPY_ESCAPES)}\t{status}\t"
                f"{reason.translate(COPY_ESCAPES)}\t{code}\t{segments}\t{batch}\t{self.constant_text}\n")

    def values_sql(self, n: int) -> str:
        """The INSERT of `n` rows in one statement (`sql` with `n` groups of values)."""
        head, values = self.sql.split(" VALUES ")
        return f"{head} VALUES {', '.join([values] * n)}"

    def insert(self, rows: Iterable[tuple], meanwhile: Callable[[], T] | None = None) -> T | None:
        """Write `rows`; then run `meanwhile()` (which must not use the database) and return
        its result. On PostgreSQL `meanwhile` runs while the rows are still streaming to the
        server and being written into the table and its indexes, so the caller's next chunk
        (normalizing, deduplicating: pure Python) costs no extra time: the server's share of
        a commit and Python's overlap, on two cores."""
        result = None
        rows = rows if isinstance(rows, list) else list(rows)
        with self.connection.cursor() as cursor:
            if not self.copy_sql:
                cursor.executemany(self.sql, rows)
                return meanwhile() if meanwhile is not None else None
            if len(rows) < COPY_FROM:  # one statement, one round trip, no writer thread
                if rows:
                    cursor.execute(self.values_sql(len(rows)), [value for row in rows for value in row])
                return meanwhile() if meanwhile is not None else None
            start = time.monotonic()
            data = self.copy_text(rows).encode()
            n = data.count(b"\n")

            def copy_rows(sql, params, many, context) -> int:
                nonlocal result
                from psycopg.copy import QueuedLibpqWriter  # PostgreSQL only

                # psycopg 3, under Django's wrapper; the queued writer sends from its own thread.
                with cursor.cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
                    copy.write(data)
                    if meanwhile is not None:
                        result = meanwhile()
                return n

            # Through the connection's execute wrappers (what counts and watches statements),
            # and into the debug log: Django itself does not see a COPY.
            n = cursor._execute_with_wrappers(self.copy_sql, None, False, copy_rows)
            if self.connection.queries_logged:
                self.connection.queries_log.append(
                    {"sql": f"{self.copy_sql} -- {n} rows", "time": f"{time.monotonic() - start:.3f}"})
        return result
