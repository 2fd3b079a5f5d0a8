"""UPDATE … RETURNING: change rows and read them back in one statement.

Sending one SMS from code is a handful of small statements, each a round trip to the
database; claiming rows and then reading them, or moving counters and then reading them
for the progress bar, are two where one does. SQLite (3.35+) and PostgreSQL both return
rows from an UPDATE; on a backend that cannot, the rows are read back with a second query.
"""

from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet


def update_returning(queryset: QuerySet, fields: list[str], **values: Any) -> list[Model]:
    """`queryset.update(**values)`, returning the updated rows as instances that hold only
    `fields` (the primary key is always read). Unordered, like any UPDATE."""
    model = queryset.model
    meta = model._meta
    wanted = {meta.pk.attname, *(meta.get_field(f).attname for f in fields)}
    names = [f.attname for f in meta.concrete_fields if f.attname in wanted]  # from_db reads them in this order
    connection = connections[queryset.db]
    if not connection.features.can_return_rows_from_update:
        ids = list(queryset.values_list("pk", flat=True))
        queryset.model._default_manager.using(queryset.db).filter(pk__in=ids).update(**values)
        return list(model._default_manager.using(queryset.db).filter(pk__in=ids).only(*names))
    update = [(meta.get_field(name), None, value) for name, value in values.items()]
    returning = [meta.get_field(name) for name in names]
    rows = queryset._update(update, returning_fields=returning)
    return [model.from_db(queryset.db, names, row) for row in rows]
