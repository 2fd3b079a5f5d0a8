"""What the user picked: explicit ids per recipient model, or everyone matching a filter.

"Everyone matching" travels as the django-filter query string, so selecting 100,000
people never ships 100,000 ids. JSON shape, as posted by the dashboard and the API:

    {"recipients.customer": {"ids": [1, 2, 3]},
     "recipients.externalsubject": {"filter": "q=acme&typology=2"}}
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from sender.audience.registry import get_recipient_model
from sender.exceptions import SelectionError

MAX_EXPLICIT_IDS = 50_000


@dataclass(frozen=True)
class ModelSelection:
    label: str
    ids: tuple[str, ...] = ()
    filter: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"filter": self.filter} if self.filter is not None else {"ids": list(self.ids)}


@dataclass(frozen=True)
class Selection:
    parts: tuple[ModelSelection, ...]

    @classmethod
    def parse(cls, data: Any) -> "Selection":
        """Validate the posted shape; every problem comes back as a SelectionError sentence."""
        if not isinstance(data, Mapping):
            raise SelectionError(_("The selection must be an object mapping recipient models to choices."))
        parts = []
        for label, choice in data.items():
            model = get_recipient_model(label)
            if any(part.label == model._meta.label_lower for part in parts):
                raise SelectionError(_("%(model)s are selected twice.") % {"model": model._meta.verbose_name_plural})
            if not isinstance(choice, Mapping) or not ({"ids", "filter"} & set(choice)):
                raise SelectionError(_("Choose ids or a filter for %(model)s.") % {"model": model._meta.verbose_name_plural})
            if "filter" in choice and choice.get("ids"):
                raise SelectionError(_("Send either ids or a filter for %(model)s, not both.") % {"model": model._meta.verbose_name_plural})
            if "filter" in choice:
                if not isinstance(choice["filter"], str):
                    raise SelectionError(_("The filter must be a query string."))
                parts.append(ModelSelection(model._meta.label_lower, filter=choice["filter"].lstrip("?")))
                continue
            ids = choice["ids"]
            if not isinstance(ids, list) or not all(isinstance(i, (int, str)) and not isinstance(i, bool) for i in ids):
                raise SelectionError(_("The ids must be a list of identifiers."))
            if len(ids) > MAX_EXPLICIT_IDS:
                raise SelectionError(_("Too many ids; use “select all matching” instead."))
            if ids:
                parts.append(ModelSelection(model._meta.label_lower, ids=tuple(dict.fromkeys(str(i) for i in ids))))
        if not parts:
            raise SelectionError(_("No recipients selected."))
        return cls(tuple(parts))

    def to_json(self) -> dict[str, Any]:
        return {part.label: part.to_json() for part in self.parts}
