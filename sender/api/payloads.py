"""What the API reads and writes: a send request parsed by the dashboard's own form, and
the JSON shapes of broadcasts, rows, schedules and previews."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from sender.api.http import ApiError
from sender.audience.billees import named_billee
from sender.audience.models import Audience
from sender.audience.people import name_of
from sender.audience.saved import audience_for_send
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageSent
from sender.pipeline.forms import ComposeForm
from sender.pipeline.models import MessageTemplate, ScheduledBroadcast
from sender.pipeline.preview import Preview
from sender.pipeline.progress import counters
from sender.pipeline.templates import examples
from sender.statuses import RecipientStatus

BODY_FORMATS = {"text": "plain", "markdown": "markdown"}
"""The API's names for how an email body is written → how the dashboard's form stores them."""
FORMAT_NAMES = {stored: name for name, stored in BODY_FORMATS.items()}


@dataclass(frozen=True)
class Message:
    """A checked preview or send request: the dashboard form's data, the saved audience it
    named (if any) and who it is billed to (if anyone)."""

    form: ComposeForm
    audience: Audience | None
    billee: Model | None

    @property
    def selection(self) -> Selection:
        return self.form.cleaned_data["selection"]

    @property
    def methods(self) -> list[str]:
        return self.form.cleaned_data["methods"]

    @property
    def typology(self):
        return self.form.cleaned_data["typology"]

    def draft(self) -> Draft:
        return self.form.draft()

    def echo(self) -> dict[str, Any]:
        """What the preview gives back of the request, so a client sees what it asked for."""
        return {"audience": {"id": self.audience.pk, "name": self.audience.name} if self.audience else None,
                "billee": named_json(self.billee) if self.billee is not None else None,
                "body_format": FORMAT_NAMES[self.draft().format]}


def read_message(payload: dict[str, Any], user: AbstractBaseUser, key: str = "preview") -> Message:
    """A Message body (checked against the schema) as preview and send both take it: a saved
    audience stands for its stored selection, taken now and resolved by the send as any
    selection; the billee is checked as the send checks it (sender.audience.billees)."""
    audience = audience_for_send(payload["audience"]) if payload.get("audience") is not None else None
    if audience is not None:
        payload = {**payload, "selection": audience.selection}
    form = compose_form(payload, user, key)
    return Message(form, audience, named_billee(payload.get("billee"), user))


def compose_form(payload: dict[str, Any], user: AbstractBaseUser, key: str = "preview",
                 current: dict[str, Any] | None = None) -> ComposeForm:
    """Validate a send request (already checked against the schema) with the dashboard's
    ComposeForm: same rules, same messages; a 422 says what cannot be done. `current`: the
    fields a PATCH leaves as they are."""
    payload = {**(current or {}), **payload, **_from_template(payload)}
    selection = payload.get("selection")
    data = {
        "selection": json.dumps(selection) if selection is not None else "",
        "methods": [str(m) for m in payload.get("methods", [])],
        "typology": payload.get("typology") or "",
        "subject": payload.get("subject", ""),
        "body": payload.get("body", ""),
        "attachments": [str(a) for a in payload.get("attachments", [])],
        "transliterate": payload.get("transliterate") is True,
        "body_format": BODY_FORMATS[payload.get("body_format") or "text"],
        "idempotency_key": key,
    }
    form = ComposeForm(data, user=user)
    if not form.is_valid():
        raise ApiError(422, [e for errors in form.errors.values() for e in errors], fields=form.errors)
    return form


def _from_template(payload: dict[str, Any]) -> dict[str, Any]:
    """A saved template fills in the subject, body and typology the request leaves out."""
    if payload.get("template") is None:
        return {}
    template = MessageTemplate.objects.filter(pk=payload["template"]).first()
    if template is None:
        raise ApiError(422, _("There is no message template %(id)s.") % {"id": payload["template"]})
    return {"subject": payload.get("subject") or template.subject, "body": payload.get("body") or template.body,
            "typology": payload.get("typology") or template.typology_id}


def send_at(payload: dict[str, Any]) -> datetime | None:
    """The payload's send_at (RFC 3339, checked by the schema) as an aware datetime in UTC, or
    None if absent; 422 for a valid RFC 3339 time Python cannot hold (a leap second, an offset
    that pushes year 9999 past the calendar). Past and too far ahead: scheduling's check."""
    value = payload.get("send_at")
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(422, _("“send_at” cannot be a time to send; give one within a year from now.")) from None


def when(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def preview_json(preview: Preview, draft: Draft, echo: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**preview.as_dict(), "examples": examples(preview, draft), **(echo or {})}


def overall_status(sents: list[MessageSent]) -> str:
    statuses = {s.status for s in sents}
    for status in (MessageSent.Status.PREPARING, MessageSent.Status.SENDING, MessageSent.Status.PAUSED, MessageSent.Status.QUEUED,
                   MessageSent.Status.FAILED, MessageSent.Status.CANCELLED):
        if status in statuses:
            if status == MessageSent.Status.QUEUED and statuses - {status}:
                return MessageSent.Status.SENDING  # some methods are done, others not yet
            return status
    return MessageSent.Status.DONE


def broadcast_json(broadcast: Broadcast, request) -> dict[str, Any]:
    """A broadcast with its counters, from its prefetched per-method rows."""
    sents = list(broadcast.sents.all())
    methods = [{"method": s.method, **{k: v for k, v in counters(s).items() if k not in ("status_display", "cost_display")},
                "finished_at": when(s.finished_at), "error": s.error} for s in sents]
    totals = {k: sum(m[k] for m in methods) for k in (*RecipientStatus.values, "total")}
    return {
        "id": broadcast.pk, "status": overall_status(sents), "subject": broadcast.subject, "body": broadcast.body,
        "typology": broadcast.typology_id, "sender": broadcast.sender.get_username(),
        "created_at": when(broadcast.created_at), "selection": broadcast.selection,
        "attachments": [a.pk for a in broadcast.attachments.all()],
        "origin": broadcast.origin, "body_format": body_format(sents),
        "billee": billee_json(broadcast),
        "methods": methods, "totals": {**totals, "cost": str(sum((s.cost for s in sents), 0))},
        "url": request.build_absolute_uri(broadcast.get_absolute_url()),
    }


def body_format(sents: list[MessageSent]) -> str:
    """How the broadcast's email was written ("text" without an email): the email method
    keeps "markdown" on its row, as for a send from the dashboard."""
    return "markdown" if any((s.extra or {}).get("format") == "markdown" for s in sents) else "text"


def named_json(record: Model) -> dict[str, str]:
    """A billee as the API names it: its model, its id and its name."""
    return {"model": record._meta.label_lower, "id": str(record.pk), "name": name_of(record)}


def billee_json(billed: Broadcast | ScheduledBroadcast) -> dict[str, str] | None:
    """The billee of a broadcast or a schedule; one deleted since keeps its model and id, with no name."""
    if not billed.billee_type_id:
        return None
    record = billed.billee
    if record is not None:
        return named_json(record)
    content_type = ContentType.objects.get_for_id(billed.billee_type_id)  # cached per type
    return {"model": f"{content_type.app_label}.{content_type.model}", "id": billed.billee_id, "name": ""}


def row_json(row: MessageRecipient, methods: dict[int, str]) -> dict[str, Any]:
    content_type = row.content_type_id and ContentType.objects.get_for_id(row.content_type_id)  # cached per type
    return {
        "id": row.pk, "method": methods[row.message_sent_id],
        "recipient": {"model": f"{content_type.app_label}.{content_type.model}", "id": row.object_id}
        if content_type else None,
        "address": row.address, "status": row.status, "reason_code": row.reason_code, "reason": row.reason, "attempts": row.attempts,
        "segments": row.segments, "cost": str(row.cost), "sent_at": when(row.sent_at),
        **({"text": row.text} if row.text else {}),  # only where placeholders made it differ from the body
    }


def attachment_json(attachment: MessageAttachment) -> dict[str, Any]:
    return {"id": attachment.pk, "name": attachment.name, "content_type": attachment.content_type,
            "size": attachment.size, "sha256": attachment.sha256}


def schedule_json(scheduled: ScheduledBroadcast, request) -> dict[str, Any]:
    return {
        "id": scheduled.pk, "status": scheduled.status, "send_at": when(scheduled.send_at),
        "time_zone": timezone.get_current_timezone_name(), "selection": scheduled.selection,
        "methods": scheduled.methods, "typology": scheduled.typology_id, "subject": scheduled.subject,
        "body": scheduled.body, "transliterate": scheduled.transliterate,
        "body_format": FORMAT_NAMES.get(scheduled.body_format, "text"),
        "attachments": [a.pk for a in scheduled.attachments.all()], "billee": billee_json(scheduled),
        "broadcast": scheduled.broadcast_id, "error": scheduled.error, "created_at": when(scheduled.created_at),
        "url": request.build_absolute_uri(scheduled.get_absolute_url()),
    }


def template_json(template: MessageTemplate) -> dict[str, Any]:
    return {"id": template.pk, "name": template.name, "typology": template.typology_id,
            "typology_name": template.typology.name, "subject": template.subject, "body": template.body}


def audience_json(audience: Audience) -> dict[str, Any]:
    """A saved audience as stored: per model, the ticked ids or the filter (resolved again at
    every send, with the sender's visibility), and the filter in words as the picker showed it."""
    return {"id": audience.pk, "name": audience.name, "owner": audience.owner.get_username() if audience.owner else "",
            "selection": audience.selection, "described": audience.described,
            "created_at": when(audience.created_at), "updated_at": when(audience.updated_at)}
