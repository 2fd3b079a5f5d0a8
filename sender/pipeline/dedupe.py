"""Deduplication without holding every address: classify remembers each address it let
through as a 64-bit hash in one flat open-addressing table (8 bytes a slot, at most half
full: ~16 MB at a million addresses, where a set of the strings took over 100 MB).

Two different addresses can share a hash (about 3 in 100 million broadcasts of a million
recipients): the later one would wrongly be called a duplicate. The database judges: after
commit wrote the rows, `judge` gives back any "duplicate" row whose address no valid row of
its method has (one query; it finds none but in that rare case).
"""

from array import array

from django.db import connection
from django.db.models import Min

from sender.models import MessageRecipient

Status = MessageRecipient.Status
MASK64 = (1 << 64) - 1


class AddressHashes:
    """A set of strings seen, kept as their 64-bit hashes (Python's own string hash, stable
    within the process, computed once per string)."""

    def __init__(self, capacity: int = 1024):
        self.table = array("Q", [0]) * capacity
        self.mask = capacity - 1
        self.count = 0

    def add(self, address: str) -> bool:
        """Remember `address`; False if it (or an address with the same hash) was seen before."""
        h = (hash(address) & MASK64) or 1  # 0 marks an empty slot
        table, mask = self.table, self.mask
        i = h & mask
        while value := table[i]:
            if value == h:
                return False
            i = (i + 1) & mask
        table[i] = h
        self.count += 1
        if self.count * 2 > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.table
        self.table = array("Q", [0]) * (2 * len(old))
        self.mask = len(self.table) - 1
        table, mask = self.table, self.mask
        for h in old:
            if h:
                i = h & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = h


def judge(sent_id: int, batch: int) -> int:
    """Make valid again (in `batch`) the rows of this method wrongly called duplicates by a
    hash collision: a duplicate whose address no valid row has (the first of them only, in
    case two such rows share an address). Returns how many.

    The message's duplicates and valid rows are read through `(message_sent, status)` and
    compared as sets (EXCEPT: a hashed set operation on PostgreSQL, never a loop over rows):
    PostgreSQL has no index of email addresses (`reply_address`), and has no statistics yet
    for rows written in this transaction, which once made a join plan loop over every valid
    row for each duplicate. In all but the rare collision the difference is empty and
    nothing is written."""
    table = MessageRecipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT address FROM {table} WHERE message_sent_id = %s AND status = %s "
            f"EXCEPT SELECT address FROM {table} WHERE message_sent_id = %s AND status = %s",
            [sent_id, Status.DUPLICATE, sent_id, Status.PENDING])
        lonely = [address for (address,) in cursor.fetchall()]
    if not lonely:
        return 0
    duplicates = MessageRecipient.objects.filter(message_sent_id=sent_id, status=Status.DUPLICATE)
    first = duplicates.filter(address__in=lonely).values("address").annotate(first=Min("id")).values_list("first", flat=True)
    return MessageRecipient.objects.filter(pk__in=list(first)).update(status=Status.PENDING, reason="", batch=batch)
