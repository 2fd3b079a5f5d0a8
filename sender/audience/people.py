"""Who is behind recipient rows: (content type id, object id) pairs turned into records
and names in one query per model, for lists that must name people, not ids."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

from sender.audience.registry import recipient_models

Key = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    label: str | None
    """The recipient model's label when it is a recipient model (its history page exists)."""
    pk: str


def name_of(record: Model) -> str:
    represent = getattr(record, "get_representation", None)
    return str(represent() if represent else record)


def records(keys: Iterable[Key]) -> dict[Key, Model]:
    """The records behind these pairs, one query per model; a record deleted since is absent."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for content_type_id, object_id in keys:
        wanted[content_type_id].add(str(object_id))
    found: dict[Key, Model] = {}
    for content_type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        for pk, record in model._default_manager.in_bulk(list(ids)).items():
            found[(content_type_id, str(pk))] = record
    return found


def people(keys: Iterable[Key]) -> dict[Key, Person]:
    """The people behind these pairs, named and with the label of their history page."""
    known = set(recipient_models())
    found: dict[Key, Person] = {}
    for key, record in records(keys).items():
        label = record._meta.label_lower
        found[key] = Person(name_of(record), label if label in known else None, key[1])
    return found
