"""Template tags for SMS: the gateway credit next to the preview, and replies on the pages."""

from django import template
from django.db.models import Model

from sender.channels import methods
from sender.channels.sms.incoming import replies_for, replies_from
from sender.channels.sms.models import GatewayState
from sender.channels.sms.tracking import sms_aliases
from sender.models import Broadcast

register = template.Library()
REPLIES_SHOWN = 50


@register.simple_tag
def sms_credits(preview=None) -> list[dict]:
    """Per SMS method in the preview (every SMS method without one): the credit the gateway
    last reported for its quality, and how much this send needs (each number's segments, summed)."""
    wanted = {m.alias: m for m in preview.methods} if preview is not None else None
    aliases = [a for a in sms_aliases() if wanted is None or a in wanted]
    states = {s.method: s for s in GatewayState.objects.filter(method__in=aliases)}
    result = []
    for alias in aliases:
        method, state = methods[alias], states.get(alias)
        left = state.credits.get(method.message_type) if state else None
        needed = wanted[alias].units_needed if wanted else None
        result.append({"label": method.label, "message_type": method.message_type, "left": left,
                       "money": state.money if state else None, "checked_at": state.credits_at if state else None,
                       "needed": needed, "short": left is not None and needed is not None and needed > left,
                       "error": state.error if state else ""})
    return result


@register.simple_tag(takes_context=True)
def sms_replies(context, of: Broadcast | Model) -> dict:
    """Replies to a broadcast, or from one recipient (to broadcasts the viewer may see)."""
    if isinstance(of, Broadcast):
        queryset = replies_for(of)
    else:
        queryset = replies_from(of, context["request"].user)
    replies = list(queryset[:REPLIES_SHOWN + 1])
    return {"list": replies[:REPLIES_SHOWN], "more": len(replies) > REPLIES_SHOWN,
            "count": len(replies) if len(replies) <= REPLIES_SHOWN else queryset.count()}
