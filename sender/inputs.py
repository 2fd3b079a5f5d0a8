"""What the outside may send us, checked once for every door: JSON that is not nested past
reason, text a database can store, and ids that fit their column.

Each rule lives here once, so the API, the dashboard's forms, the Telegram webhook and the
staff pages refuse the same input with the same sentence instead of a 500 further down
(RecursionError in the JSON parser, OverflowError in the database driver, a lone surrogate
that UTF-8 cannot encode at commit).
"""

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_JSON_DEPTH = 32
"""Deeper than any request we accept or any Telegram update (about 8); deep enough to never bother."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InputError(ValueError):
    """Input refused before it reached any logic; the message says why, for the user."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL, a lone surrogate), or None."""
    if _UNSTORABLE.search(value):
        return _("The text contains a character that cannot be stored (a NUL or a lone surrogate).")
    return None


def validate_text(value: Any) -> None:
    """A form validator: text with a NUL or a lone surrogate is refused (PostgreSQL and UTF-8 cannot hold them)."""
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise ValidationError(gettext_lazy("The text contains a character that cannot be stored "
                                           "(a NUL or a lone surrogate)."), code="unstorable")


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH, **options: Any) -> Any:
    """Parse JSON, refusing (InputError) what is malformed, nested deeper than `max_depth`, or
    carries text that cannot be stored, in keys or values. `options` go to json.loads."""
    try:
        data = json.loads(raw, **options)
    except RecursionError:
        raise InputError(_("The JSON is nested too deeply (at most %(n)d levels).") % {"n": max_depth}) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise InputError(_("The request body is not valid JSON: %(error)s") % {"error": exc}) from None
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                raise InputError(_("The JSON is nested too deeply (at most %(n)d levels).") % {"n": max_depth})
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise InputError(problem)
                pending.append((item, depth + 1))
        elif isinstance(value, str) and (problem := text_problem(value)):
            raise InputError(problem)
    return data


def parse_pk(model: type[models.Model], value: Any) -> Any:
    """`value` as the model's primary key, or a ValidationError: not an id of that kind, or out of
    the column's range (an integer past 2**63 would overflow the database driver)."""
    field = model._meta.pk
    try:
        if isinstance(value, (bool, float)):
            raise ValidationError("not an id")
        pk = field.to_python(value)
        if pk is None:
            raise ValidationError("empty")
        field.run_validators(pk)  # integer fields: the database's range
    except (ValidationError, TypeError, ValueError):
        raise ValidationError(gettext_lazy("“%(value)s” is not a valid id."), code="invalid_pk",
                              params={"value": str(value)[:40]}) from None
    return pk
