"""Template tags for the staff side of the inbox, used by small included templates so the
broadcast and recipient pages need no inbox code in their views."""

from typing import Any

from django import template
from django.db.models import Model

from sender.inbox.invite import may_invite
from sender.inbox.people import linked_user, user_field
from sender.inbox.reads import ReadShare, read_shares
from sender.models import Broadcast

register = template.Library()


@register.simple_tag
def broadcast_reads(broadcast: Broadcast) -> list[ReadShare]:
    """Who read the broadcast's stored messages, and the share of those who received them."""
    return read_shares(broadcast)


@register.simple_tag(takes_context=True)
def recipient_account(context: template.Context, record: Model) -> dict[str, Any]:
    """The record's login account (if any) and whether the viewer may invite it."""
    model = type(record)
    field = user_field(model)
    request = context.get("request")
    return {
        "tracked": bool(field),
        "user": linked_user(record),
        "may_invite": bool(request and may_invite(request.user, model)),
        "has_email": bool((getattr(record, "get_email", "") or "").strip()),
        "label": model._meta.label_lower,
    }
