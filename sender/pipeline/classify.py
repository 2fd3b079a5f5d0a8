"""Classify each resolved recipient per method: valid, duplicate, invalid or opted out, with a reason.

Normalization is the method's; deduplication keeps a compact table of 64-bit address hashes
per method (dedupe.py: flat memory at a million recipients; commit lets the database judge
the rare collision), so the whole step is linear in the number of recipients. Addresses that opted out
of a method (sender.audience.optout) are `opted_out`: one query per run (per chunk if there are very many).
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from django.utils.translation import gettext as _

from sender.audience.optout import Suppressions
from sender.audience.resolve import Resolved
from sender.channels import BaseMethod
from sender.exceptions import InvalidAddress
from sender.models import MessageRecipient
from sender.pipeline.dedupe import AddressHashes

Status = MessageRecipient.Status
ADDRESS_MAX = MessageRecipient._meta.get_field("address").max_length
OPT_OUT_CHUNK = 2000


@dataclass(slots=True)
class Classified:
    method: str
    content_type_id: int
    object_id: str
    address: str
    status: str  # PENDING (valid), DUPLICATE, INVALID or OPTED_OUT
    reason: str = ""

    @property
    def status_label(self) -> str:
        return Status(self.status).label


def suppressions_for(methods: Sequence[BaseMethod]) -> Suppressions:
    """The opt-outs classify checks (one query); `known` is set when they were all loaded, so
    classifying then asks the database nothing more."""
    suppressions = Suppressions(m.alias for m in methods if m.address_field)
    suppressions.load()
    return suppressions


def classify(resolved: Iterable[Resolved], methods: Sequence[BaseMethod],
             suppressions: Suppressions | None = None) -> Iterator[Classified]:
    # Storage's address is the recipient itself, unique per model: nothing to remember.
    seen: dict[str, AddressHashes | None] = {m.alias: AddressHashes() if m.address_field else None for m in methods}
    missing = {m.alias: _("No address for %(method)s.") % {"method": m.label} for m in methods if m.address_field}
    opted = {m.alias: _("The recipient opted out of %(method)s.") % {"method": m.label} for m in methods}
    twice = _("Same address as another recipient of this message.")  # translated once, not per duplicate
    resolved = iter(resolved)
    # Opt-outs: one query for the whole run, or one per chunk when there are very many; never per address.
    if suppressions is None:
        suppressions = Suppressions(alias for alias, addresses in seen.items() if addresses is not None)
    first = True
    while chunk := list(islice(resolved, OPT_OUT_CHUNK)):
        rows = list(_normalize(chunk, methods, missing))
        refused = suppressions.refused({(c.method, c.address) for c in rows if c.status == Status.PENDING
                                        and seen[c.method] is not None},
                                       only=first and len(chunk) < OPT_OUT_CHUNK)  # the whole run, and small
        first = False
        for row in rows:
            if row.status == Status.PENDING and (row.method, row.address) in refused:
                row.status, row.reason = Status.OPTED_OUT, opted[row.method]
            elif row.status == Status.PENDING and (addresses_seen := seen[row.method]) is not None:
                if not addresses_seen.add(row.address):
                    row.status, row.reason = Status.DUPLICATE, twice
            yield row


def _normalize(chunk: Sequence[Resolved], methods: Sequence[BaseMethod], missing: dict[str, str]) -> Iterator[Classified]:
    """Each recipient's address per method, normalized: PENDING, or INVALID with the reason."""
    for ct_id, object_id, addresses, only in chunk:
        for method in methods:
            kind = method.address_field
            if only is not None and kind != only:
                continue  # a related recipient, or one address of several, for another method only
            if kind is not None and kind not in addresses:
                continue  # a to-many address path: its addresses arrive as tuples of their own
            raw = f"{ct_id}:{object_id}" if kind is None else addresses[kind]
            alias = method.alias
            if not raw or not str(raw).strip():
                yield Classified(alias, ct_id, object_id, "", Status.INVALID, missing[alias])
                continue
            try:
                address = method.normalize(str(raw))
                if len(address) > ADDRESS_MAX:  # PostgreSQL would refuse the whole broadcast
                    raise InvalidAddress(_("The address is too long (%(n)d characters, at most %(max)d).")
                                         % {"n": len(address), "max": ADDRESS_MAX})
                yield Classified(alias, ct_id, object_id, address, Status.PENDING)
            except InvalidAddress as exc:
                yield Classified(alias, ct_id, object_id, str(raw)[:ADDRESS_MAX], Status.INVALID, str(exc))
