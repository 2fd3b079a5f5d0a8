"""`send_text`, `send_sms`, `send_mass_sms`: bare addresses (or records) through the ledger.

Each call is a Broadcast like a dashboard send (sender: the given user or the system user),
with one MessageSent for its method and one MessageRecipient per address, whose recipient
object is empty unless a record was given. Addresses are normalized, deduplicated and checked
against opt-outs by the pipeline's own classify; rows are priced and written by its commit;
delivery is the workers' deliver_batch, run here in-process (or queued with `queue=True`).
"""

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Model, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.audience.mixin import RecipientMixin
from sender.audience.resolve import Resolved
from sender.audience.selection import Selection
from sender.channels import BaseMethod, Draft
from sender.conf import sender_settings
from sender.direct.connection import Connection, get_connection
from sender.direct.errors import BadMessage, NotSent, SendError
from sender.exceptions import InvalidMethod, SelectionError
from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import checkpoint_rows, deliver_batch, deliver_task
from sender.statements import Statement

Status = MessageRecipient.Status
NOT_SENT = (Status.FAILED, Status.INVALID, Status.OPTED_OUT, Status.DUPLICATE)
"""Row statuses that make a call raise NotSent (unless fail_silently)."""
NOBODY = Selection(parts=())
ROWS = Statement(MessageRecipient, "SELECT {columns} FROM {table} WHERE {message_sent} = %(sent)s ORDER BY {id}",
                 columns=[f.name for f in MessageRecipient._meta.concrete_fields])
"""The rows a call returns, whole; written out once (sender.statements): every call reads them."""


def send_text(text: str, frm: str | None, to: Any, *, method: str = "sms", fail_silently: bool = False,
              status_report: bool = True, subject: str = "", attachments: Sequence[MessageAttachment] = (),
              idempotency_key: str | None = None, user: AbstractBaseUser | None = None, queue: bool = False,
              connection: Connection | None = None, billee: Model | None = None) -> MessageRecipient | None:
    """Send `text` to one address (a number, an email address, a Telegram chat id) or one
    record that implements the recipient mixin; return its ledger row (status, cost, gateway
    reference). `frm` is the SMS sender id (None: the method's). `billee`: any saved object the
    cost is billed to (the cost report groups by it). None when nothing could be written and
    `fail_silently` is set."""
    connection = connection or get_connection(method, fail_silently)
    draft = Draft(body=text, subject=subject, attachments=tuple(attachments), sender=frm or "",
                  status_report=status_report)
    rows = _send(connection, draft, [to], user=user, key=idempotency_key, queue=queue,
                 fail_silently=fail_silently or connection.fail_silently, billee=billee)
    return rows[0] if rows else None


def send_sms(body: str, from_phone: str | None, to: Iterable[str], flash: bool = False, fail_silently: bool = False,
             connection: Connection | None = None, *, user: AbstractBaseUser | None = None,
             queue: bool = False, billee: Model | None = None) -> list[MessageRecipient]:
    """django-sendsms's `send_sms`: one text to a list of numbers; the rows, in `to`'s order."""
    connection = connection or get_connection(None, fail_silently)
    silent = fail_silently or connection.fail_silently
    if flash and not connection.supports_flash:
        return _refuse(BadMessage(_("This SMS gateway cannot send flash SMS: send an ordinary one.")), silent)
    return _send(connection, Draft(body=body, sender=from_phone or "", flash=flash), list(to), user=user, key=None,
                 queue=queue, fail_silently=silent, billee=billee)


def send_mass_sms(datatuple: Iterable[tuple[str, str | None, Iterable[str]]], fail_silently: bool = False,
                  connection: Connection | None = None, *, user: AbstractBaseUser | None = None,
                  queue: bool = False, billee: Model | None = None) -> list[MessageRecipient]:
    """django-sendsms's `send_mass_sms`: `(body, from, to)` tuples. Tuples with the same body and
    sender become one broadcast, sent in the pipeline's batches (one gateway order per
    1,000 numbers), so 10,000 numbers of one text cost ten gateway calls."""
    connection = connection or get_connection(None, fail_silently)
    silent = fail_silently or connection.fail_silently
    groups: dict[tuple[str, str], list[str]] = {}
    for body, frm, to in datatuple:
        groups.setdefault((body, frm or ""), []).extend(to)
    rows: list[MessageRecipient] = []
    with connection:
        for (body, frm), numbers in groups.items():
            rows += _send(connection, Draft(body=body, sender=frm), numbers, user=user, key=None, queue=queue,
                          fail_silently=silent, billee=billee)
    return rows


def _send(connection: Connection, draft: Draft, targets: list[Any], *, user: AbstractBaseUser | None,
          key: str | None, queue: bool, fail_silently: bool, billee: Model | None = None,
          origin: str = Broadcast.Origin.BROADCAST) -> list[MessageRecipient]:
    method = connection.method
    if queue and connection.backend is not None:
        return _refuse(BadMessage(_("A backend given by path sends in this process only: queue=True would "
                                    "hand the rows to the configured gateway.")), fail_silently)
    if draft.sender and method.kind != "sms":
        return _refuse(BadMessage(_("%(method)s sends from its configured address: pass None as the sender.")
                                  % {"method": method.label}), fail_silently)
    try:
        recipients = [_resolved(target, method) for target in targets]
        if user is None:
            user = connection.system_user = connection.system_user or system_user()
        broadcast = commit(NOBODY, user, [method.alias], draft, key or uuid.uuid4().hex,
                           recipients=recipients, queue=queue, new_key=key is None, billee=billee,
                           origin=origin)
    except (SelectionError, InvalidMethod) as exc:
        return _refuse(BadMessage(str(exc)), fail_silently)
    except PermissionDenied as exc:
        return _refuse(SendError(str(exc)), fail_silently)
    [sent] = broadcast.sents.all()  # held by commit: no query
    if not queue and sent.pending_count:
        with connection:
            deliver_now(sent)
    rows = ROWS.rows(sent=sent.pk)
    refused = [row for row in rows if row.status in NOT_SENT]
    if refused and not fail_silently:
        raise NotSent(_("%(n)d of %(total)d not sent: %(reason)s")
                      % {"n": len(refused), "total": len(rows), "reason": refused[0].reason}, rows)
    return rows


def _refuse(error: SendError, fail_silently: bool) -> list:
    if fail_silently:
        return []
    raise error


def deliver_now(sent: MessageSent) -> None:
    """Run the batches here, as a worker would; a batch that meets a transient error is
    handed to the workers for its retry (its rows stay pending).

    Outcomes are written once per batch, not per method checkpoint: the caller waits for the
    whole answer anyway, and 10,000 numbers cost a few statements per gateway order rather
    than nine. The price: if this process dies mid-batch, a worker sends the batch's rows
    again and ends them `unknown` (they may arrive twice). Nothing is queued yet, so the
    stored value is in place before any claim."""
    if sent.pending_count > checkpoint_rows(sent.method):
        sent.extra = {**sent.extra, "checkpoint_rows": sender_settings.BATCH_SIZE}
        MessageSent.objects.filter(pk=sent.pk).update(extra=sent.extra)
    for batch in range(math.ceil(sent.pending_count / sender_settings.BATCH_SIZE)):
        delay = deliver_batch(sent.pk, batch, sent=sent)
        if delay is not None:
            deliver_task.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(sent.pk, batch)


def _resolved(target: Any, method: BaseMethod) -> Resolved:
    """A record that implements the mixin, or a bare address for `method`."""
    kind = method.address_field
    if isinstance(target, Model):
        if not isinstance(target, RecipientMixin):
            raise SelectionError(_("%(model)s is not a recipient model.") % {"model": type(target).__name__})
        addresses = {kind: getattr(target, f"get_{kind}")} if kind else {}  # properties of the mixin
        return ContentType.objects.get_for_model(target).pk, str(target.pk), addresses, None
    if kind is None:
        raise SelectionError(_("%(method)s stores messages for records: pass a record, not an address.")
                             % {"method": method.label})
    return None, "", {kind: str(target)}, kind


def system_user() -> AbstractBaseUser:
    """The account code sends as when no user is given (SENDER["SYSTEM_USER"]): made on first
    use, staff with the send permission, without a password, so it can never log in."""
    User = get_user_model()
    username = sender_settings.SYSTEM_USER
    users = User._default_manager.filter(**{User.USERNAME_FIELD: username})
    if hasattr(User, "user_permissions") and hasattr(User, "groups"):
        # Whether it may send, read with the user in one query rather than two at the check.
        perm = {"permission__codename": "send_message", "permission__content_type__app_label": "sender"}
        own = User.user_permissions.through.objects.filter(**{User.user_permissions.field.m2m_field_name(): OuterRef("pk")}, **perm)
        grouped = Group.permissions.through.objects.filter(group__user=OuterRef("pk"), **perm)
        users = users.annotate(sender_may_send=Exists(own) | Exists(grouped))
    user = users.first()
    if user is not None and getattr(user, "sender_may_send", False):
        # What ModelBackend caches after its own read; this object answers only for sending
        # (it is the system user, made with that one permission, and lives for one call).
        user._perm_cache = {"sender.send_message"}
    if user is None:
        user = User(**{User.USERNAME_FIELD: username}, is_staff=True, is_active=True)
        user.set_unusable_password()
        user.save()
        user.user_permissions.add(Permission.objects.get(codename="send_message", content_type__app_label="sender"))
        user = User._default_manager.get(pk=user.pk)  # fresh permission cache
    return user

