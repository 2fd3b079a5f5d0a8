"""Classify each resolved recipient per method: valid, duplicate or invalid, with a reason.

Normalization is the method's; deduplication is a set per method, so the whole step is
linear in the number of recipients (the ancestor's was quadratic).
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..exceptions import InvalidAddress
from ..methods import BaseMethod
from ..models import MessageRecipient
from .resolve import Resolved

Status = MessageRecipient.Status
ADDRESS_MAX = MessageRecipient._meta.get_field("address").max_length


@dataclass(slots=True)
class Classified:
    method: str
    content_type_id: int
    object_id: str
    address: str
    status: str  # PENDING (valid), DUPLICATE or INVALID
    reason: str = ""

    @property
    def status_label(self) -> str:
        return Status(self.status).label


def classify(resolved: Iterable[Resolved], methods: Sequence[BaseMethod]) -> Iterator[Classified]:
    # Storage's address is the recipient itself, unique per model: no set to fill (at a
    # million recipients that set alone was 150 MB).
    seen: dict[str, set[str] | None] = {m.alias: set() if m.address_field else None for m in methods}
    missing = {m.alias: _("No address for %(method)s.") % {"method": m.label} for m in methods if m.address_field}
    for ct_id, object_id, addresses, only in resolved:
        for method in methods:
            kind = method.address_field
            if only is not None and kind != only:
                continue  # a related recipient, reached through another method only
            raw = f"{ct_id}:{object_id}" if kind is None else addresses[kind]
            alias = method.alias
            if not raw or not str(raw).strip():
                yield Classified(alias, ct_id, object_id, "", Status.INVALID, missing[alias])
                continue
            try:
                address = method.normalize(str(raw))
            except InvalidAddress as exc:
                yield Classified(alias, ct_id, object_id, str(raw)[:ADDRESS_MAX], Status.INVALID, str(exc))
                continue
            addresses_seen = seen[alias]
            if addresses_seen is None:
                yield Classified(alias, ct_id, object_id, address, Status.PENDING)
            elif address in addresses_seen:
                yield Classified(alias, ct_id, object_id, address, Status.DUPLICATE,
                                 _("Same address as another recipient of this message."))
            else:
                addresses_seen.add(address)
                yield Classified(alias, ct_id, object_id, address, Status.PENDING)
