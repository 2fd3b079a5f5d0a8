"""Saved audiences: a selection kept under a name, shared by staff.

An audience stores the selection as posted (ticked ids, or "everyone matching" as its filter
query string), never the people it resolved to: loading it puts the filter back in the
picker, and the send resolves it again, with the sender's visibility, as any selection.
Every sender sees every audience; only its owner or an administrator (superuser, or the
model's change/delete permission) renames, replaces or deletes it.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sender.audience.models import Audience
from sender.audience.resolve import selected_queryset
from sender.audience.selection import Selection
from sender.exceptions import SelectionError

NAME_MAX = Audience._meta.get_field("name").max_length


def may_change(user: AbstractBaseUser, audience: Audience, action: str = "change") -> bool:
    """The owner, or an administrator: `action` is "change" (rename, replace) or "delete"."""
    return audience.owner_id == user.pk or user.is_superuser or user.has_perm(f"recipients.{action}_audience")


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Give the audience a name."))
    if len(name) > NAME_MAX:
        raise ValidationError(_("The name is too long: at most %(n)d characters.") % {"n": NAME_MAX})
    return name


def save_audience(name: str, selection: Selection, user: AbstractBaseUser,
                  described: dict[str, str] | None = None) -> tuple[Audience, bool]:
    """Save `selection` under `name`; an audience of that name the user may change is replaced.
    Returns (audience, created)."""
    name = clean_name(name)
    labels = {part.label for part in selection.parts}
    described = {label: str(text)[:500] for label, text in (described or {}).items() if label in labels}
    existing = Audience.objects.filter(name=name).first()
    if existing is not None:
        if not may_change(user, existing):
            raise ValidationError(_("“%(name)s” is someone else's audience; choose another name.") % {"name": name})
        existing.selection, existing.described = selection.to_json(), described
        existing.save(update_fields=["selection", "described", "updated_at"])
        return existing, False
    try:
        with transaction.atomic():
            return Audience.objects.create(name=name, selection=selection.to_json(), described=described,
                                           owner=user), True
    except IntegrityError:
        raise ValidationError(_("An audience named “%(name)s” was just saved; choose another name.")
                              % {"name": name}) from None


def rename_audience(audience: Audience, name: str, user: AbstractBaseUser) -> Audience:
    if not may_change(user, audience):
        raise PermissionDenied(_("Only its owner or an administrator can rename this audience."))
    name = clean_name(name)
    if Audience.objects.filter(name=name).exclude(pk=audience.pk).exists():
        raise ValidationError(_("An audience named “%(name)s” already exists.") % {"name": name})
    audience.name = name
    audience.save(update_fields=["name", "updated_at"])
    return audience


def delete_audience(audience: Audience, user: AbstractBaseUser) -> None:
    if not may_change(user, audience, "delete"):
        raise PermissionDenied(_("Only its owner or an administrator can delete this audience."))
    audience.delete()


def loaded(audience: Audience, user: AbstractBaseUser) -> dict[str, Any]:
    """The audience as the picker takes it: per model, ids or the filter with how many it
    matches today (within what `user` may see). SelectionError when it no longer applies
    (a model no longer listed, a record this user may not see, a filter that is now invalid)."""
    selection = Selection.parse(audience.selection)
    parts: dict[str, Any] = {}
    for part in selection.parts:
        count = selected_queryset(part, user).count()
        if part.filter is not None:
            parts[part.label] = {"filter": part.filter, "count": count, "described": audience.described.get(part.label, "")}
        else:
            parts[part.label] = {"ids": list(part.ids)}
    return {"id": audience.pk, "name": audience.name, "selection": parts}


def audience_for_send(pk: int) -> Audience:
    """The saved audience a send names by id. Any sender may use any audience (the rule above):
    only its stored selection is taken, and the send resolves it with the sender's own
    visibility, so an audience saved by someone who sees more reaches no one this sender may
    not see. SelectionError when there is no such audience."""
    found = Audience.objects.filter(pk=pk).first()
    if found is None:
        raise SelectionError(_("There is no saved audience %(id)s.") % {"id": pk})
    return found


def listed(user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Every audience, for the picker's list: name, owner, and whether `user` may change it."""
    return [{"id": a.pk, "name": a.name, "owner": a.owner.get_username() if a.owner else "",
             "mine": may_change(user, a), "may_delete": may_change(user, a, "delete")}
            for a in Audience.objects.select_related("owner")]

