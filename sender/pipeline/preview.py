"""Preview: what a send would reach and cost, per method. Nothing is written."""

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from sender.audience import placeholders
from sender.audience.resolve import resolve
from sender.audience.selection import Selection
from sender.channels import BaseMethod, Draft
from sender.models import MessageRecipient
from sender.pipeline.checks import load_methods, presend, require_sender
from sender.pipeline.classify import Classified, classify

Status = MessageRecipient.Status
SAMPLE_SIZE = 100


@dataclass
class MethodPreview:
    alias: str
    label: str
    valid: int = 0
    duplicate: int = 0
    invalid: int = 0
    """Rows that cannot be reached: a bad or missing address, or one that opted out (counted in `opted_out` too)."""
    opted_out: int = 0
    segments: int = 1
    """Units each recipient costs; with placeholders, the most any one costs (see the range)."""
    unit_cost: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    segments_min: int = 1
    """With placeholders texts differ in length: the fewest units any recipient costs (else `segments`)."""
    unit_cost_min: Decimal = Decimal(0)
    units: int | None = None
    """Units the whole send needs when texts differ (else valid × segments): what credit must cover."""
    rejected: list[Classified] = field(default_factory=list)
    """The first SAMPLE_SIZE duplicate or invalid rows, with their reasons."""
    example: Classified | None = None
    """The first valid row: whom a rendered example of the message is shown for."""

    @property
    def total(self) -> int:
        return self.valid + self.duplicate + self.invalid

    @property
    def units_needed(self) -> int:
        return self.units if self.units is not None else self.valid * self.segments

    @property
    def varies(self) -> bool:
        """True when recipients cost different amounts (placeholders change the length)."""
        return self.segments_min != self.segments


@dataclass
class Preview:
    methods: list[MethodPreview]
    total_cost: Decimal
    warnings: list[str]

    def as_dict(self) -> dict:
        return {
            "methods": [
                {
                    "method": m.alias, "label": str(m.label), "valid": m.valid, "duplicate": m.duplicate,
                    "invalid": m.invalid, "opted_out": m.opted_out, "segments": m.segments, "unit_cost": str(m.unit_cost), "cost": str(m.cost),
                    "segments_min": m.segments_min, "segments_max": m.segments,
                    "unit_cost_min": str(m.unit_cost_min), "unit_cost_max": str(m.unit_cost),
                    "rejected": [
                        {"status": r.status, "content_type_id": r.content_type_id, "object_id": r.object_id,
                         "address": r.address, "reason": r.reason}
                        for r in m.rejected
                    ],
                }
                for m in self.methods
            ],
            "total_cost": str(self.total_cost),
            "warnings": [str(w) for w in self.warnings],
        }


def preview(selection: Selection, user: AbstractBaseUser, method_aliases: list[str], draft: Draft) -> Preview:
    require_sender(user)
    loaded = load_methods(method_aliases)
    presend(loaded, draft)
    kinds = {m.address_field for m in loaded if m.address_field}
    counts: dict[str, Counter] = {m.alias: Counter() for m in loaded}
    rejected: dict[str, list[Classified]] = {m.alias: [] for m in loaded}
    examples: dict[str, Classified] = {}
    # Who reads which text matters only to a method priced by text, and only when texts differ.
    priced = {m.alias for m in loaded if m.priced_by_text} if placeholders.personal(draft.body) else set()
    reached: dict[str, list[tuple[int, str]]] = {alias: [] for alias in priced}
    for row in classify(resolve(selection, user, kinds), loaded):
        counts[row.method][row.status] += 1
        if row.status == Status.PENDING:
            examples.setdefault(row.method, row)
            if row.method in priced:
                reached[row.method].append((row.content_type_id, row.object_id))
        elif len(rejected[row.method]) < SAMPLE_SIZE:
            rejected[row.method].append(row)
    result, warnings = [], []
    for method in loaded:
        c = counts[method.alias]
        unit = method.price(draft)
        m = MethodPreview(
            alias=method.alias, label=method.label, valid=c[Status.PENDING], duplicate=c[Status.DUPLICATE],
            invalid=c[Status.INVALID] + c[Status.OPTED_OUT], opted_out=c[Status.OPTED_OUT], segments=method.segments(draft), unit_cost=unit,
            cost=unit * c[Status.PENDING], rejected=rejected[method.alias], example=examples.get(method.alias),
        )
        m.segments_min, m.unit_cost_min = m.segments, m.unit_cost
        if reached.get(method.alias):
            warnings.extend(_price_rendered(m, method, draft, placeholders.text_counts(draft.body, reached[method.alias])))
        result.append(m)
        warnings.extend(method.warnings(draft))
        if not c[Status.PENDING]:
            warnings.append(_("Nobody selected can be reached by %(method)s.") % {"method": method.label})
    return Preview(result, sum((m.cost for m in result), Decimal(0)), warnings)


def _price_rendered(m: MethodPreview, method: BaseMethod, draft: Draft, texts: Counter[str]) -> list[str]:
    """Price each distinct rendered text (placeholders filled in) for as many recipients as read
    it: the total, and the range of units and cost one recipient may come to. Also the
    refusals a rendered text meets that the draft did not (an SMS grown past its limit)."""
    units = {text: method.segments(replace(draft, body=text)) for text in texts}
    m.segments, m.segments_min = max(units.values()), min(units.values())
    m.unit_cost = method.unit_price * m.segments
    m.unit_cost_min = method.unit_price * m.segments_min
    m.units = sum(units[text] * n for text, n in texts.items())
    m.cost = method.unit_price * m.units
    longest = max(texts, key=lambda text: (units[text], len(text)))
    return [_("With the placeholders filled in, some recipients' text is too long: %(problem)s")
            % {"problem": problem} for problem in method.presend(replace(draft, body=longest))
            if problem not in method.presend(draft)]
