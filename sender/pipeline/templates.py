"""Saved message templates, and how a composed message reads for each method's first recipient."""

from typing import Any

from sender.audience.placeholders import recipients, render
from sender.channels import Draft, methods
from sender.pipeline.models import MessageTemplate
from sender.pipeline.preview import Preview


def examples(preview: "Preview", draft: "Draft") -> list[dict[str, Any]]:
    """One rendered example per method: the message as its first valid recipient gets it."""
    shown = [m for m in preview.methods if m.example]
    found = recipients((m.example.content_type_id, m.example.object_id) for m in shown)
    result = []
    for m in shown:
        values = found.get((m.example.content_type_id, m.example.object_id), {})
        body = methods[m.alias].as_sent(render(draft.body, values), draft)
        html = methods[m.alias].as_html(body, draft)  # only a formatted email has one
        result.append({"method": m.alias, "label": str(m.label), "recipient": values.get("name", ""),
                       "address": m.example.address, "subject": draft.subject, "body": body,
                       **({"html": html} if html is not None else {})})
    return result


def saved_templates() -> list[dict[str, Any]]:
    """The saved templates, for the compose page's “start from a template” list."""
    return [{"id": t.pk, "name": str(t), "typology": t.typology_id, "subject": t.subject, "body": t.body}
            for t in MessageTemplate.objects.select_related("typology")]
