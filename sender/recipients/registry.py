"""Which models are recipients: `SENDER["RECIPIENT_MODELS"]`, as "app_label.Model" names."""

from functools import cache

from django.apps import apps
from django.db import models
from django.utils.translation import gettext as _

from ..conf import sender_settings
from ..exceptions import InvalidRecipientModel, SelectionError
from .mixin import RecipientMixin


@cache
def recipient_models() -> dict[str, type[models.Model]]:
    """Map "app_label.model" (lower case) to the model class, in settings order."""
    found = {}
    for name in sender_settings.RECIPIENT_MODELS:
        try:
            model = apps.get_model(name)
        except (LookupError, ValueError) as exc:
            raise InvalidRecipientModel(f'SENDER["RECIPIENT_MODELS"]: no model "{name}" ({exc}).') from exc
        if not issubclass(model, RecipientMixin):
            raise InvalidRecipientModel(
                f'SENDER["RECIPIENT_MODELS"]: "{name}" does not use sender.recipients.mixin.RecipientMixin.'
            )
        found[model._meta.label_lower] = model
    return found


def get_recipient_model(label: str) -> type[models.Model]:
    """The recipient model for a posted label, or a SelectionError a user can read."""
    model = recipient_models().get(str(label).lower())
    if model is None:
        raise SelectionError(_("“%(label)s” is not a recipient model.") % {"label": label})
    return model
