"""Checking a value against a schema of the OpenAPI document, with the problems told in the
user's language (jsonschema's own messages are English and name Python types)."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

FORMATS = FormatChecker(formats=["date-time"])  # RFC 3339, through rfc3339-validator
MAX_REPORTED = 10


def _type_name(name: str) -> str:
    return {"integer": _("a whole number"), "string": _("text"), "boolean": _("true or false"),
            "array": _("a list"), "object": _("an object"), "null": _("null"), "number": _("a number")}.get(name, name)


def _problem(error: ValidationError, field: str) -> str:
    kind, limit = error.validator, error.validator_value
    if kind == "type":
        types = limit if isinstance(limit, list) else [limit]
        return _("“%(field)s” must be %(type)s.") % {"field": field, "type": _(" or ").join(map(_type_name, types))}
    if kind == "required":
        return _("“%(field)s” is required.") % {"field": error.message.split("'")[1] if "'" in error.message else field}
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return _("Unknown fields in “%(field)s”: %(names)s.") % {"field": field, "names": ", ".join(extra)}
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _("“%(field)s” is out of range.") % {"field": field}
    if kind == "maxLength":
        return ngettext("“%(field)s” is too long: at most %(n)d character.",
                        "“%(field)s” is too long: at most %(n)d characters.", limit) % {"field": field, "n": limit}
    if kind == "minLength":
        return _("“%(field)s” must not be empty.") % {"field": field}
    if kind == "maxItems":
        return ngettext("“%(field)s” has too many items: at most %(n)d.",
                        "“%(field)s” has too many items: at most %(n)d.", limit) % {"field": field, "n": limit}
    if kind in ("minItems", "minProperties"):
        return _("“%(field)s” must not be empty.") % {"field": field}
    if kind == "maxProperties":
        return _("“%(field)s”: give either ids or a filter, not both.") % {"field": field}
    if kind == "uniqueItems":
        return _("“%(field)s” lists an item twice.") % {"field": field}
    if kind == "enum":
        return _("“%(field)s” must be one of: %(choices)s.") % {"field": field, "choices": ", ".join(map(str, limit))}
    if kind == "pattern":
        return _("“%(field)s” contains a character that is not allowed.") % {"field": field}
    if kind == "oneOf" and all(set(choice) == {"required"} for choice in limit):
        names = _(" or ").join(f"“{name}”" for choice in limit for name in choice["required"])
        return _("Give exactly one of %(names)s.") % {"names": names}
    if kind == "format":
        return _("“%(field)s” must be a date and time in RFC 3339, e.g. 2030-01-31T09:00:00+01:00.") % {"field": field}
    return _("“%(field)s” is not valid.") % {"field": field}


def problems(value: Any, schema: dict[str, Any], name: str = "") -> tuple[list[str], dict[str, list[str]]]:
    """What in `value` breaks `schema` (its refs resolve in the schema itself): sentences, and
    the same sentences per top-level field. Empty when the value follows the schema."""
    errors = sorted(Draft202012Validator(schema, format_checker=FORMATS).iter_errors(value),
                    key=lambda e: [str(p) for p in e.absolute_path])
    messages: list[str] = []
    fields: dict[str, list[str]] = {}
    for error in errors[:MAX_REPORTED]:
        path = [name] if name else []
        path += [str(p) for p in error.absolute_path]
        field = ".".join(path) or _("the request")
        problem = _problem(error, field)
        messages.append(problem)
        fields.setdefault(path[0] if path else "request", []).append(problem)
    return messages, fields
