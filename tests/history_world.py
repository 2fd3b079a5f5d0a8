"""Builders for the history, report and admin tests: broadcasts sent through the real commit,
then settled the way a worker would leave them (statuses, reasons, costs, counters)."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import Permission, User
from django.db.models import Count, Q, Sum
from django.utils import timezone

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageTypology
from sender.pipeline.commit import commit

Status = MessageRecipient.Status


def grant(user: User, *codenames: str) -> User:
    """Add permissions and return a fresh user (Django caches permissions on the instance)."""
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def send(user: User, people: Iterable, methods: Sequence[str] = ("storage",), *, subject: str = "Greetings",
         body: str = "Hello", typology: MessageTypology | None = None) -> Broadcast:
    """Commit a broadcast to these customers through the real pipeline (nothing delivered yet)."""
    selection = Selection.parse({"recipients.customer": {"ids": [p.pk for p in people]}})
    return commit(selection, user, list(methods), Draft(subject=subject, body=body), uuid.uuid4().hex,
                  typology=typology)


def settle(sent: MessageSent, *, failed: dict[str, str] | None = None, unit_cost: Decimal = Decimal(0),
           ref: str = "", status: str = MessageSent.Status.DONE) -> MessageSent:
    """End every pending row: `failed` addresses with their reason, the rest delivered at
    `unit_cost` each; then set the counters and cost from the rows, as the pipeline does."""
    failed = failed or {}
    now = timezone.now()
    rows = MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING)
    for address, reason in failed.items():
        rows.filter(address=address).update(status=Status.FAILED, reason=reason, attempts=1)
    rows.filter(status=Status.PENDING).update(status=Status.DELIVERED, cost=unit_cost, sent_at=now, attempts=1,
                                              gateway_ref=ref, segments=1)
    counts = MessageRecipient.objects.filter(message_sent=sent).aggregate(
        cost=Sum("cost"), **{f"{s}_count": Count("pk", filter=Q(status=s)) for s in Status.values})
    MessageSent.objects.filter(pk=sent.pk).update(status=status, finished_at=now, **counts)
    sent.refresh_from_db()
    return sent


def backdate(broadcast: Broadcast, when: datetime) -> None:
    """Move a broadcast and its per-method rows to another date."""
    Broadcast.objects.filter(pk=broadcast.pk).update(created_at=when)
    MessageSent.objects.filter(broadcast=broadcast).update(created_at=when)


def at(year: int, month: int, day: int = 15) -> datetime:
    """Noon on a day, in the project's time zone."""
    return timezone.make_aware(datetime(year, month, day, 12))
