"""Scheduled broadcasts: checked now, committed by a worker at `send_at`, editable until then.

Scheduling writes one ScheduledBroadcast row and queues one `start_scheduled` task with
`run_after=send_at` in the same transaction. Nothing is resolved into recipient rows until
the worker starts it, so recipients, message and time can all still change. Starting is a
conditional UPDATE (scheduled and due → started): a cancelled or moved schedule's old task
finds nothing to do, and two workers never start the same one.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.models import Broadcast, MessageTypology
from sender.pipeline.commit import billee_key, check_same_request, commit, request_hash
from sender.pipeline.models import ScheduledBroadcast
from sender.pipeline.preview import Preview, preview

Status = ScheduledBroadcast.Status


class NotEditable(SelectionError):
    """The schedule has started or was cancelled: it can no longer change."""

    def __init__(self) -> None:
        super().__init__(_("This broadcast has already started or was cancelled; it can no longer change."))


def scoped_key(user: AbstractBaseUser, key: str, scope: str = "") -> str:
    """A client's idempotency key, made unique per user (and per scope) in 64 characters."""
    return hashlib.sha256(f"{scope}\0{user.pk}\0{key}".encode()).hexdigest()


def visible_schedules(user: AbstractBaseUser) -> QuerySet[ScheduledBroadcast]:
    """Own schedules; everyone's with `view_all_messages` (as broadcasts)."""
    if not user.is_authenticated:
        return ScheduledBroadcast.objects.none()
    if user.has_perm("sender.view_all_messages"):
        return ScheduledBroadcast.objects.all()
    return ScheduledBroadcast.objects.filter(sender=user)


def may_change(user: AbstractBaseUser, scheduled: ScheduledBroadcast) -> bool:
    """Editing and cancelling are for whoever scheduled it, or a superuser (as cancel is)."""
    return scheduled.sender_id == user.pk or user.is_superuser


SCHEDULE_AHEAD = timedelta(days=366)
"""How far ahead a broadcast may be scheduled: beyond a year is a typo (and year 9999 overflows)."""


def check_time(send_at: datetime) -> None:
    """Refuse a time to send that is not ahead, or too far ahead (SelectionError); the compose
    form asks it too, so the preview refuses what Send would."""
    if timezone.is_naive(send_at):
        raise SelectionError(_("Give the time with its time zone."))
    now = timezone.now()
    try:
        send_at = send_at.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        send_at = datetime.max.replace(tzinfo=UTC)
    if send_at <= now:
        raise SelectionError(_("The time to send must be in the future."))
    if send_at > now + SCHEDULE_AHEAD:
        raise SelectionError(_("The time to send must be within a year from now."))


def schedule(selection: Selection, user: AbstractBaseUser, method_aliases: Sequence[str], draft: Draft,
             send_at: datetime, idempotency_key: str, typology: MessageTypology | None = None,
             billee: Model | None = None) -> tuple[ScheduledBroadcast, Preview | None]:
    """Check the send as a preview would, then queue it for `send_at`; a repeated key returns
    the schedule it made (and no preview), if the request is the same (else IdempotencyConflict).
    `billee` (any saved object; faces check what a user may name) goes to the broadcast."""
    extra = {"billee": billee_key(billee)} if billee is not None else {}
    fingerprint = request_hash(selection, method_aliases, draft, typology, send_at=send_at.isoformat(), **extra)
    existing = ScheduledBroadcast.objects.filter(idempotency_key=idempotency_key).first()
    if existing:
        if existing.sender_id != user.pk:
            raise SelectionError(_("This idempotency key was already used by someone else."))
        check_same_request(existing.request_hash, fingerprint)
        return existing, None
    check_time(send_at)
    checked = preview(selection, user, list(method_aliases), draft)
    with transaction.atomic():
        scheduled = ScheduledBroadcast.objects.create(
            sender=user, send_at=send_at, idempotency_key=idempotency_key, request_hash=fingerprint,
            selection=selection.to_json(),
            methods=list(method_aliases), typology=typology, subject=draft.subject, body=draft.body,
            transliterate=draft.transliterate, body_format=draft.format,
            billee_type_id=extra["billee"][0] if billee is not None else None,
            billee_id=extra["billee"][1] if billee is not None else "",
        )
        scheduled.attachments.set(draft.attachments)
        _enqueue(scheduled)
    return scheduled, checked


def update(scheduled: ScheduledBroadcast, user: AbstractBaseUser, *, selection: Selection | None = None,
           method_aliases: Sequence[str] | None = None, draft: Draft | None = None,
           send_at: datetime | None = None, typology: MessageTypology | None | bool = False,
           billee: Model | None | bool = False) -> ScheduledBroadcast:
    """Change what is given (`typology=False`, `billee=False`: keep it), re-checked like a new
    send; refused with NotEditable once a worker started it or it was cancelled."""
    if not may_change(user, scheduled):
        raise PermissionDenied(_("Only the person who scheduled it can change this broadcast."))
    if not scheduled.editable:
        raise NotEditable
    selection = selection or Selection.parse(scheduled.selection)
    aliases = list(method_aliases or scheduled.methods)
    draft = draft or _draft(scheduled)
    if send_at is not None:
        check_time(send_at)
    preview(selection, user, aliases, draft)
    with transaction.atomic():
        current = ScheduledBroadcast.objects.select_for_update().get(pk=scheduled.pk)
        if not current.editable:
            raise NotEditable
        moved = send_at is not None and send_at != current.send_at
        current.selection, current.methods = selection.to_json(), aliases
        current.subject, current.body, current.transliterate = draft.subject, draft.body, draft.transliterate
        current.body_format = draft.format
        if send_at is not None:
            current.send_at = send_at
        if typology is not False:
            current.typology = typology
        if billee is not False:
            current.billee_type_id, current.billee_id = billee_key(billee) if billee is not None else (None, "")
        current.save()
        current.attachments.set(draft.attachments)
        if moved:
            _enqueue(current)  # the old task will find the schedule not yet due and do nothing
    return current


def cancel(scheduled: ScheduledBroadcast, user: AbstractBaseUser) -> bool:
    """Cancel before it starts. False if a worker already started it (cancel the broadcast then)."""
    if not may_change(user, scheduled):
        raise PermissionDenied(_("Only the person who scheduled it can cancel this broadcast."))
    return bool(ScheduledBroadcast.objects.filter(pk=scheduled.pk, status=Status.SCHEDULED).update(
        status=Status.CANCELLED, updated_at=timezone.now()))


def start(schedule_id: int) -> Broadcast | None:
    """Commit a due schedule (called by the worker). None if it is not due, not scheduled any
    more, or could not be sent — then the schedule says why."""
    now = timezone.now()
    claimed = ScheduledBroadcast.objects.filter(pk=schedule_id, status=Status.SCHEDULED, send_at__lte=now).update(
        status=Status.STARTED, updated_at=now)
    if not claimed:
        return None
    scheduled = ScheduledBroadcast.objects.select_related("sender", "typology").get(pk=schedule_id)
    draft = _draft(scheduled)
    try:
        broadcast = commit(Selection.parse(scheduled.selection), scheduled.sender, scheduled.methods, draft,
                           scheduled.idempotency_key, typology=scheduled.typology, billee=_billee(scheduled),
                           background=False)  # already in a worker: write the rows here
    except (SelectionError, PermissionDenied) as exc:
        error = "; ".join(str(e) for e in getattr(exc, "errors", [str(exc)]))
        ScheduledBroadcast.objects.filter(pk=schedule_id).update(status=Status.FAILED, error=error)
        return None
    ScheduledBroadcast.objects.filter(pk=schedule_id).update(broadcast=broadcast)
    return broadcast


@task()
def start_scheduled(schedule_id: int) -> None:
    """The background task: commit a scheduled broadcast when it is due; its delivery tasks
    are queued as for any send."""
    start(schedule_id)


def _billee(scheduled: ScheduledBroadcast) -> Model | None:
    """The schedule's billee; one deleted since is a SelectionError: the broadcast is not
    sent billed to nobody."""
    if not scheduled.billee_type_id:
        return None
    found = scheduled.billee
    if found is None:
        raise SelectionError(_("The billee (%(type)s %(id)s) no longer exists.")
                             % {"type": scheduled.billee_type.name, "id": scheduled.billee_id})
    return found


def _draft(scheduled: ScheduledBroadcast) -> Draft:
    return Draft(body=scheduled.body, subject=scheduled.subject, attachments=tuple(scheduled.attachments.all()),
                 transliterate=scheduled.transliterate, format=scheduled.body_format)


def _enqueue(scheduled: ScheduledBroadcast) -> None:
    if start_scheduled.get_backend().supports_defer:
        start_scheduled.using(run_after=scheduled.send_at).enqueue(scheduled.pk)
    else:  # a backend that cannot wait (tests' immediate backend): the task checks the time itself
        transaction.on_commit(lambda: start_scheduled.enqueue(scheduled.pk))


