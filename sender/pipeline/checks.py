"""Checks shared by preview and commit: who sends, over which methods, what."""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from sender.audience.placeholders import problems as template_problems
from sender.audience.placeholders import uses_placeholders
from sender.channels import BaseMethod, Draft, methods
from sender.exceptions import InvalidMethod, SelectionError
from sender.permissions import can_send


def require_sender(user: AbstractBaseUser) -> None:
    if not can_send(user):
        raise PermissionDenied(_("You do not have permission to send messages."))


def load_methods(aliases: Sequence[str]) -> list[BaseMethod]:
    """The configured methods for `aliases`, in settings order, or a SelectionError."""
    if not aliases:
        raise SelectionError(_("Choose at least one send method."))
    unknown = [a for a in aliases if a not in methods.settings]
    if unknown:
        raise SelectionError(_("Unknown send method: %(names)s.") % {"names": ", ".join(map(str, unknown))})
    try:
        return [methods[alias] for alias in methods if alias in aliases]
    except InvalidMethod as exc:
        raise SelectionError(str(exc)) from exc


def presend(loaded: Sequence[BaseMethod], draft: Draft) -> None:
    problems = [problem for method in loaded for problem in method.presend(draft)]
    problems += placeholder_problems(loaded, draft)
    if problems:
        raise SelectionError(list(dict.fromkeys(problems)))


def placeholder_problems(loaded: Sequence[BaseMethod], draft: Draft) -> list[str]:
    """Placeholders ({{ name }}) only in the body and only the allowed ones; every method fills them in."""
    if not uses_placeholders(draft.body) and not uses_placeholders(draft.subject):
        return []
    found = template_problems(draft.body)
    if uses_placeholders(draft.subject):
        found.append(_("Placeholders work in the message body only, not in the subject."))
    return found
