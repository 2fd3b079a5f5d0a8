"""Staff's side of the inbox: who read a stored message, when, and what share of those
who received it. A fixed number of queries per storage method of a broadcast."""

from dataclasses import dataclass, field

from sender.channels import methods
from sender.inbox.messages import storage_aliases
from sender.models import Broadcast, MessageUserRead

LATEST = 50


@dataclass
class ReadShare:
    """One stored message (a broadcast over one storage method): reads, share, latest readers."""

    method_label: str
    delivered: int
    reads: int
    latest: list[MessageUserRead] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """Reads per delivered row, at most 1 (two records of one person count as two rows)."""
        return min(self.reads / self.delivered, 1.0) if self.delivered else None

    @property
    def percent(self) -> int | None:
        return None if self.share is None else round(self.share * 100)


def read_shares(broadcast: Broadcast, limit: int = LATEST) -> list[ReadShare]:
    """Per storage method of `broadcast`: read count, share of delivered, latest readers."""
    aliases = storage_aliases()
    shares = []
    for sent in broadcast.sents.all():
        if sent.method not in aliases:
            continue
        reads = sent.reads.select_related("user").order_by("-read_at", "-pk")
        shares.append(ReadShare(str(methods[sent.method].label), sent.delivered_count, reads.count(), list(reads[:limit])))
    return shares
