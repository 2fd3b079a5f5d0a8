"""Statements written out once: the few that every send runs, for the price of running them.

Sending one SMS from code is about a dozen small statements. Built through the ORM, each cost
0.2–1 ms of Python (filters resolved, expressions copied, SQL compiled) against a few dozen
microseconds in the database: together more than the gateway's own round trip (BENCHMARKS.md,
"Sending from code"). The statements declared with `Statement` have a fixed shape, so their
SQL is written once from the model's own table and column names, kept per database vendor,
and run through `connection.cursor()` with every value a parameter, never part of the text.

A template names columns by field (`{status}`, `{message_sent}`), the table as `{table}`, and
values as `%(name)s`. Values are prepared as the ORM would: datetimes and UUIDs for the
database, dicts as JSON; a list becomes the items of an `IN (…)`. Rows that come back are
converted as the ORM converts them. SQLite (3.35+) and PostgreSQL, the databases Sender runs
on, both return rows from UPDATE and INSERT.
"""

import datetime
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import NotSupportedError, connections, router
from django.db.models import Model


class Statement:
    """One SQL statement of `model`'s table, from a template (see the module docstring).

    `columns`: the fields a SELECT or a RETURNING reads, written where the template says
    `{columns}`; `rows()` gives them (the primary key always comes) as instances of the model
    holding only those fields, as `QuerySet.only()` would.

    `index`: on SQLite, `{table}` reads `INDEXED BY` it. SQLite plans by the statistics of the
    last ANALYZE (sender_periodic's, hourly): taken while the table was small, they make a
    full scan look cheaper than any index, and a broadcast grown since would scan the whole
    table once per batch. PostgreSQL re-plans from the table's size and needs no hint."""

    def __init__(self, model: type[Model], template: str, columns: Iterable[str] = (), index: str = ""):
        self.model = model
        self.template = template
        self.index = index
        self.reads = template.lstrip().upper().startswith("SELECT")  # routed as the ORM routes reads
        meta = model._meta
        wanted = {meta.pk.attname, *(meta.get_field(name).attname for name in columns)} if columns else set()
        # Model.from_db takes a partial row in the order of the concrete fields.
        self.columns = [f for f in meta.concrete_fields if f.attname in wanted]
        self._sql: dict[str, str] = {}  # vendor → the template with its names filled in

    def sql(self, connection) -> str:
        """The statement's text for this connection (written on first use, then kept)."""
        try:
            return self._sql[connection.vendor]
        except KeyError:
            pass
        _supported(connection)
        quote = connection.ops.quote_name
        meta = self.model._meta
        names = {"table": quote(meta.db_table)}
        if self.index and connection.vendor == "sqlite":
            names["table"] += f" INDEXED BY {quote(self.index)}"
        for field in meta.concrete_fields:
            names[field.name] = names[field.attname] = quote(field.column)
        if self.columns:
            names["columns"] = ", ".join(quote(f.column) for f in self.columns)
        self._sql[connection.vendor] = sql = self.template.format_map(names)
        return sql

    def execute(self, using: str | None = None, **values: Any) -> int:
        """Run it; the number of rows it changed."""
        connection = connections[using or router.db_for_write(self.model)]
        sql, params = _bind(self.sql(connection), values, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def execute_many(self, rows: Sequence[Mapping[str, Any]], using: str | None = None) -> None:
        """Run it once per mapping of values, in one `executemany` (no list values here)."""
        if not rows:
            return
        connection = connections[using or router.db_for_write(self.model)]
        sql = self.sql(connection)
        params = [{k: _prepared(v, connection) for k, v in row.items()} for row in rows]
        with connection.cursor() as cursor:
            if len(params) == 1:  # psycopg runs executemany as a pipeline: for one row, dearer than execute
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)

    def rows(self, using: str | None = None, **values: Any) -> list[Model]:
        """Run it; the rows it read or returned (`columns`), as model instances."""
        alias = using or (router.db_for_read if self.reads else router.db_for_write)(self.model)
        connection = connections[alias]
        sql, params = _bind(self.sql(connection), values, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return instances(self.model, self.columns, fetched, alias)


_CONVERTERS: dict[tuple, tuple[list, list[str]]] = {}


def instances(model: type[Model], fields: Sequence, rows: Iterable[Sequence], alias: str) -> list[Model]:
    """Database rows holding `fields` (in concrete field order) as model instances, each value
    converted as the ORM converts it (e.g. SQLite's text datetimes and UUIDs)."""
    connection = connections[alias]
    key = (model, tuple(fields), connection.vendor)
    if key not in _CONVERTERS:  # which fields need converting, found once
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                converters.append((index, column, found))
        _CONVERTERS[key] = converters, [field.attname for field in fields]
    converters, names = _CONVERTERS[key]
    result = []
    for row in rows:
        row = list(row)
        for index, column, found in converters:
            for convert in found:
                row[index] = convert(row[index], column, connection)
        result.append(model.from_db(alias, names, row))
    return result


def _supported(connection) -> None:
    if connection.vendor not in ("sqlite", "postgresql"):
        raise NotSupportedError(f"{connection.vendor} is not a database Sender runs on")


def _bind(sql: str, values: Mapping[str, Any], connection) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters as the database driver takes them."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list):  # the items of an IN (…): one parameter each
            items = [f"{name}_{i}" for i in range(len(value))]
            sql = sql.replace(f"%({name})s", ", ".join(f"%({item})s" for item in items))
            params.update(zip(items, (_prepared(v, connection) for v in value)))
        else:
            params[name] = _prepared(value, connection)
    return sql, params


def _prepared(value: Any, connection) -> Any:
    """A value as Django's fields prepare it for this database."""
    if isinstance(value, datetime.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, uuid.UUID):
        return value if connection.features.has_native_uuid_field else value.hex
    if isinstance(value, dict):
        return connection.ops.adapt_json_value(value, None)
    return value


_INSERTS: dict[tuple[type[Model], str], tuple[str, list]] = {}


def insert(instance: Model, using: str | None = None) -> Model:
    """Write a new instance in one `INSERT … RETURNING` and return it, saved (its primary key
    and its `auto_now_add` values set), as `Model.save()` would, but without what a send never
    needs: no pre_save/post_save signals (nothing in Sender listens to them for these models),
    no check for an existing row, no parents. For models whose fields have no database default."""
    model = type(instance)
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    try:
        sql, fields = _INSERTS[model, connection.vendor]
    except KeyError:
        _supported(connection)
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key or not f.db_returning]
        if any(f.has_db_default() for f in fields):
            raise NotSupportedError(f"{meta.label} has database defaults: save() it")
        quote = connection.ops.quote_name
        sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}")
        _INSERTS[model, connection.vendor] = sql, fields
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        [[pk]] = cursor.fetchall()
    instance.pk = pk
    instance._state.adding, instance._state.db = False, alias
    return instance
