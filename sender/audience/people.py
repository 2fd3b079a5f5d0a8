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


def people(keys: Iterable[Key]) -> dict[Key, Person]:
    """The people behind these pairs; a record deleted since is simply absent."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for content_type_id, object_id in keys:
        wanted[content_type_id].add(str(object_id))
    known = set(recipient_models())
    found: dict[Key, Person] = {}
    for content_type_id, ids in wanted.items():
        content_type = ContentType.objects.get_for_id(content_type_id)
        model = content_type.model_class()
        if model is None:
            continue
        label = f"{content_type.app_label}.{content_type.model}"
        for record in model._default_manager.filter(pk__in=ids):
            found[(content_type_id, str(record.pk))] = Person(name_of(record), label if label in known else None,
                                                               str(record.pk))
    return found
