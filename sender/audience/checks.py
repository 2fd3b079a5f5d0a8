"""System checks for SENDER["RECIPIENT_MODELS"]."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from sender.audience.registry import recipient_models


@checks.register("sender")
def check_recipient_models(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        if not recipient_models():
            return [checks.Error('SENDER["RECIPIENT_MODELS"] lists no model.', id="sender.E006")]
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="sender.E007")]
    return []
