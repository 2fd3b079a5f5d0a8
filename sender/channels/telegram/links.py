"""Linking people's Telegram chats to recipient records, and unlinking them.

The chat id is written to each recipient model's Telegram field (`telegram_fieldpath`,
a field of the model itself), which is what the send pipeline reads; TelegramLink keeps
the state beside it. Phones are matched on the models' phone fields (`sms_fieldpath`)
through the registry: a regular expression on the digits narrows the rows in SQL, then
each candidate is normalized to E.164 and compared exactly.
"""

import enum
import re
from dataclasses import dataclass, field

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from phonenumbers import PhoneNumberFormat

from sender.audience.models import OptOut
from sender.audience.optout import opt_in, opt_out
from sender.audience.registry import recipient_models
from sender.channels.registry import aliases_of
from sender.channels.telegram.models import DeepLink, TelegramLink
from sender.conf import sender_settings


class Result(enum.Enum):
    LINKED = "linked"
    ALREADY = "already"
    NO_MATCH = "no_match"
    NOT_OWN = "not_own"
    BAD_NUMBER = "bad_number"


@dataclass
class LinkOutcome:
    result: Result
    recipients: list[models.Model] = field(default_factory=list)


def normalize_phone(raw: str) -> str | None:
    """E.164 for a number as stored on a recipient (national ones in SENDER["DEFAULT_REGION"])."""
    raw = (raw or "").strip()
    try:
        number = phonenumbers.parse(raw, sender_settings.DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def contact_phone(raw: str) -> str | None:
    """E.164 for a shared contact: always international, though clients may drop the +."""
    raw = re.sub(r"[^\d+]", "", raw or "")
    return normalize_phone(raw if raw.startswith("+") else "+" + raw) if raw else None


def _writable(model: type[models.Model]) -> str | None:
    """The model's own Telegram field, if it has one (related paths cannot be written here)."""
    path = model.get_telegram_fieldpath()
    return path if path and "__" not in path else None


def _stored_matches(raw: str | None, e164: str) -> bool:
    return bool(raw) and normalize_phone(str(raw)) == e164


def find_recipients(e164: str, only: tuple[type[models.Model], str] | None = None) -> list[models.Model]:
    """Every recipient with `e164` among their phones, over the registry's models (or just
    `only`, a (model, pk) pair from a deep link). Two queries per model that has a match.

    The phone path may cross a to-many relation (a contact with several numbers): the
    candidate numbers are read with their record's id, so the one that matched is the one
    compared, and a person with two matching numbers is found once."""
    national = str(phonenumbers.parse(e164).national_number)
    pattern = r"\D*".join(national) + r"\D*$"
    found = []
    for model in recipient_models().values():
        phone_path = model.get_sms_fieldpath()
        if not phone_path or not _writable(model):
            continue
        if only and only[0] is not model:
            continue
        queryset = model._default_manager.filter(**{f"{phone_path}__regex": pattern})
        if only:
            queryset = queryset.filter(pk=only[1])
        candidates = queryset.values_list("pk", phone_path).order_by("pk")
        pks = list(dict.fromkeys(pk for pk, raw in candidates if _stored_matches(raw, e164)))
        if pks:
            found += model._default_manager.in_bulk(pks).values()
    return found


def link(chat_id: int, phone: str, recipients: list[models.Model]) -> LinkOutcome:
    """Store `chat_id` on every recipient and (re)activate their links."""
    if not recipients:
        return LinkOutcome(Result.NO_MATCH)
    already = all(
        str(getattr(r, _writable(type(r)))) == str(chat_id)
        and TelegramLink.objects.filter(**_key(r), chat_id=chat_id, active=True).exists()
        for r in recipients
    )
    if already:
        return LinkOutcome(Result.ALREADY, recipients)
    now = timezone.now()
    with transaction.atomic():
        for r in recipients:
            type(r)._default_manager.filter(pk=r.pk).update(**{_writable(type(r)): str(chat_id)})
            TelegramLink.objects.update_or_create(**_key(r), defaults={
                "chat_id": chat_id, "phone": phone, "active": True, "reason": "", "linked_at": now})
            for alias in telegram_aliases():  # linking again is asking for messages again
                opt_in(alias, str(chat_id))
    return LinkOutcome(Result.LINKED, recipients)


def telegram_aliases() -> list[str]:
    """The configured send methods that deliver over Telegram."""
    return aliases_of("telegram")


def stop(chat_id: int, reason: str) -> int:
    """/stop: unlink the chat and opt it out, so a chat id typed back in by staff is still
    refused ("opted out") until the person sends /start again. Returns the links ended."""
    with transaction.atomic():
        count = deactivate({str(chat_id): reason})
        for alias in telegram_aliases():
            opt_out(alias, str(chat_id), source=OptOut.Source.TELEGRAM)
    return count


def _key(obj: models.Model) -> dict:
    return {"content_type": ContentType.objects.get_for_model(obj), "object_id": str(obj.pk)}


def linked(chat_id: int) -> list[TelegramLink]:
    return list(TelegramLink.objects.filter(chat_id=chat_id, active=True).select_related("content_type"))


def deactivate(reasons: dict[str, str]) -> int:
    """Chats that cannot be reached (blocked, deleted, unknown, /stop): clear the chat id
    from their recipients and mark the links inactive with Telegram's words. One UPDATE per
    recipient model and one per reason."""
    chat_ids = [int(c) for c in reasons if str(c).lstrip("-").isdigit()]
    if not chat_ids:
        return 0
    with transaction.atomic():
        for model in recipient_models().values():
            path = _writable(model)
            if path:
                model._default_manager.filter(**{f"{path}__in": [str(c) for c in chat_ids]}).update(**{path: ""})
        by_reason: dict[str, list[int]] = {}
        for chat, reason in reasons.items():
            if str(chat).lstrip("-").isdigit():
                by_reason.setdefault(reason, []).append(int(chat))
        count = 0
        for reason, chats in by_reason.items():
            count += TelegramLink.objects.filter(chat_id__in=chats, active=True).update(
                active=False, reason=reason, updated_at=timezone.now())
    return count


def migrate(moves: dict[str, str]) -> None:
    """Groups Telegram upgraded to supergroups: the new chat id replaces the old one on the
    recipients (their Telegram field) and on the links, so later broadcasts go there at once.
    One UPDATE per recipient model and one for the links, per group moved."""
    moves = {old: new for old, new in moves.items() if old.lstrip("-").isdigit() and new.lstrip("-").isdigit()}
    if not moves:
        return
    with transaction.atomic():
        for old, new in moves.items():
            for model in recipient_models().values():
                path = _writable(model)
                if path:
                    model._default_manager.filter(**{path: old}).update(**{path: new})
            TelegramLink.objects.filter(chat_id=int(old)).update(chat_id=int(new), updated_at=timezone.now())


def create_deep_link(obj: models.Model, user: AbstractBaseUser) -> DeepLink:
    return DeepLink.objects.create(**_key(obj), created_by=user)


def usable_deep_link(token: str) -> DeepLink | None:
    link_ = DeepLink.objects.filter(token=token).select_related("content_type").first()
    return link_ if link_ and link_.usable else None


def deep_link_target(token: str) -> tuple[type[models.Model], str] | None:
    """The (model, pk) a still-usable token was made for."""
    link_ = usable_deep_link(token)
    if link_ is None:
        return None
    model = link_.content_type.model_class()
    return (model, link_.object_id) if model in recipient_models().values() else None


def use_deep_link(token: str, chat_id: int) -> None:
    DeepLink.objects.filter(token=token, used_at__isnull=True).update(used_at=timezone.now(), used_by_chat=chat_id)
