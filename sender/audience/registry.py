"""Which models are recipients: `SENDER["RECIPIENT_MODELS"]`, as "app_label.Model" names."""

from functools import cache

from django.apps import apps
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.translation import gettext as _

from sender.audience.mixin import RecipientMixin
from sender.conf import sender_settings
from sender.exceptions import InvalidRecipientModel, SelectionError


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
                f'SENDER["RECIPIENT_MODELS"]: "{name}" does not use sender.audience.mixin.RecipientMixin.'
            )
        found[model._meta.label_lower] = model
    return found


def get_recipient_model(label: str) -> type[models.Model]:
    """The recipient model for a posted label, or a SelectionError a user can read."""
    model = recipient_models().get(str(label).lower())
    if model is None:
        raise SelectionError(_("“%(label)s” is not a recipient model.") % {"label": label})
    return model


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs) -> None:
    if setting == "SENDER":
        recipient_models.cache_clear()
