"""Receipts: the one function that changes a row's status after it was sent.

SMS polling (sender/channels/sms/tracking.py) and any callback view go through `apply_receipts`, keyed by
our own UUID per row (`MessageRecipient.code`). Unknown codes are ignored. A row only moves
forward (`sender.statuses.RANK`): a late "sent" after "delivered", or the same receipt twice,
changes nothing; a receipt with the row's own status only refreshes its reason. Rows move in
one UPDATE per (message, old status, new status, reason) group, counters with F()
expressions, and `message_status_changed` fires once per group after the commit.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sender.models import MessageRecipient, MessageSent
from sender.signals import message_status_changed
from sender.statuses import WENT_OUT, FailureCode, RecipientStatus, counter, moves_forward

CHUNK = 900


def apply_receipts(receipts: Mapping[uuid.UUID | str, tuple[str, str]]) -> int:
    """Apply `{row code: (status, reason)}`; return how many rows changed."""
    groups: dict[tuple[int, str, str, str], list[int]] = defaultdict(list)
    codes = [uuid.UUID(str(code)) for code in receipts]
    by_code = {uuid.UUID(str(code)): value for code, value in receipts.items()}
    for start in range(0, len(codes), CHUNK):
        rows = MessageRecipient.objects.filter(code__in=codes[start:start + CHUNK], status__in=WENT_OUT)
        for pk, code, sent_id, old, old_reason in rows.values_list("id", "code", "message_sent_id", "status", "reason"):
            status, reason = by_code[code]
            if moves_forward(old, status) or (status == old and reason != old_reason):
                groups[(sent_id, old, status, reason)].append(pk)
    if not groups:
        return 0
    now = timezone.now()
    moves: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with transaction.atomic():
        for (sent_id, old, status, reason), ids in groups.items():
            # After the gateway took a row, a failure is the carrier's (or the recipient's) refusal.
            code = FailureCode.REJECTED if status == RecipientStatus.FAILED else FailureCode.NONE
            n = MessageRecipient.objects.filter(pk__in=ids, status=old).update(
                status=status, reason=reason, reason_code=code, updated_at=now)
            moves[sent_id][old] -= n
            moves[sent_id][status] += n
        for sent_id, delta in moves.items():
            counters = {counter(s): F(counter(s)) + n for s, n in delta.items() if n}
            if counters:
                MessageSent.objects.filter(pk=sent_id).update(**counters)

        def announce() -> None:
            for (sent_id, old, status, reason), ids in groups.items():
                message_status_changed.send(sender=MessageRecipient, message_sent_id=sent_id, row_ids=ids,
                                            old_status=old, status=status, reason=reason)

        transaction.on_commit(announce)
    return sum(len(ids) for ids in groups.values())
