"""Send a test to myself: the draft on the compose page, to the staff member who wrote it.

It goes through the same methods and gateways as a broadcast (so what arrives is what
recipients would get), but as a Broadcast of origin "test": History, the home page and the
cost report leave it out. Placeholders are filled from the sender's own account. Where a
method has no address for the sender, the result says why instead of sending.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils.translation import gettext as _

from sender.audience.placeholders import problems, render
from sender.channels import Draft, methods
from sender.channels.telegram.models import TelegramLink
from sender.direct.connection import get_connection
from sender.direct.errors import SendError
from sender.direct.send import _send
from sender.inbox.people import records_for
from sender.models import Broadcast, MessageRecipient

Status = MessageRecipient.Status
REACHED = (Status.SENT, Status.DELIVERED)


@dataclass(frozen=True)
class MyselfResult:
    """What happened on one method: `address` is where it went ("" when it could not go)."""

    method: str
    label: str
    ok: bool
    address: str
    message: str


def own_values(user: AbstractBaseUser) -> dict[str, str]:
    """The sender's placeholder values: their full name (or user name) and name parts."""
    first, last = getattr(user, "first_name", "") or "", getattr(user, "last_name", "") or ""
    full = f"{first} {last}".strip()
    return {"name": full or user.get_username(), "first_name": first, "last_name": last}


def own_draft(draft: Draft, user: AbstractBaseUser) -> Draft:
    """The draft with placeholders filled from the sender's data (unchanged if they do not check)."""
    if problems(draft.body) or problems(draft.subject):
        return draft  # presend refuses it with the same sentences as a broadcast
    values = own_values(user)
    return Draft(body=render(draft.body, values), subject=render(draft.subject, values),
                 attachments=draft.attachments, transliterate=draft.transliterate, format=draft.format)


def own_records(user: AbstractBaseUser) -> list[Model]:
    """The recipient records linked to the sender's account (their inbox, their phone)."""
    found: list[Model] = []
    for ct_id, ids in records_for(user).items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        found += list(model._default_manager.filter(pk__in=ids).order_by("pk"))
    return found


def target_for(kind: str | None, user: AbstractBaseUser, records: list[Model]) -> tuple[Any, str] | str:
    """(what to send to, the address shown) for a method's address kind, or why there is none."""
    if kind is None:
        if records:
            return records[0], _("your inbox")
        return _("no recipient record is linked to your account, so you have no inbox.")
    if kind == "email" and user.email:
        return user.email, user.email
    for record in records:
        address = getattr(record, f"get_{kind}", None)
        if address:
            return (record, str(address))
    if kind == "sms":
        link = TelegramLink.objects.filter(
            content_type__in=[ContentType.objects.get_for_model(r) for r in records],
            object_id__in=[str(r.pk) for r in records]).exclude(phone="").first() if records else None
        if link:
            return link.phone, link.phone
        return _("no phone number is known for you.")
    if kind == "telegram":
        return _("your account is not linked to a Telegram chat.")
    if kind == "email":
        return _("your account has no email address.")
    return _("no address of yours is known for this method.")


def send_test(user: AbstractBaseUser, draft: Draft, method_aliases: list[str]) -> list[MyselfResult]:
    """Send `draft` to `user` over each method, delivered here and now; one result per method."""
    records = own_records(user)
    mine = own_draft(draft, user)
    results = []
    for alias in method_aliases:
        method = methods[alias]
        found = target_for(method.address_field, user, records)
        if isinstance(found, str):
            results.append(MyselfResult(alias, str(method.label), False, "", _("Not sent: %(why)s") % {"why": found}))
            continue
        target, shown = found
        results.append(_one(alias, str(method.label), mine, user, target, shown))
    return results


def _one(alias: str, label: str, draft: Draft, user: AbstractBaseUser, target: Any, shown: str) -> MyselfResult:
    try:
        [row] = _send(get_connection(alias), draft, [target], user=user, key=None, queue=False,
                      fail_silently=False, origin=Broadcast.Origin.TEST)
    except SendError as exc:
        row = exc.rows[0] if exc.rows else None
        if row is None:
            return MyselfResult(alias, label, False, shown, _("Not sent: %(why)s") % {"why": exc.message})
    if row.status in REACHED:
        return MyselfResult(alias, label, True, shown, _("Sent to %(address)s.") % {"address": shown})
    if row.status == Status.PENDING:
        return MyselfResult(alias, label, False, shown, _(
            "Not sent yet to %(address)s: the gateway asked to try again later; a worker will.")
            % {"address": shown})
    return MyselfResult(alias, label, False, shown, _("Not sent to %(address)s: %(why)s")
                      % {"address": shown, "why": row.reason or row.get_status_display()})
