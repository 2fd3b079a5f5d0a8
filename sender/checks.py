"""System checks for the SENDER settings: clear messages at startup, not errors at send time."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register("sender")
def check_sender_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from .methods import methods
    from .recipients.registry import recipient_models

    config = getattr(settings, "SENDER", None)
    if not isinstance(config, dict):
        return [checks.Error("settings.SENDER must be a dict.", id="sender.E001")]
    errors: list[checks.CheckMessage] = []
    configured = config.get("METHODS")
    if not isinstance(configured, dict) or not configured:
        errors.append(checks.Error('SENDER["METHODS"] must name at least one send method.', id="sender.E002"))
        configured = {}
    for alias, params in configured.items():
        if not isinstance(params, dict) or "BACKEND" not in params:
            errors.append(checks.Error(f"Send method '{alias}' needs a BACKEND dotted path.", id="sender.E003"))
            continue
        try:
            method = methods[alias]
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="sender.E004"))
            continue
        errors.extend(method.check())
    try:
        if not recipient_models():
            errors.append(checks.Error('SENDER["RECIPIENT_MODELS"] lists no model.', id="sender.E006"))
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="sender.E007"))
    for key in ("BATCH_SIZE", "MAX_ATTEMPTS", "LEASE_SECONDS", "CHECKPOINT_ROWS"):
        value = config.get(key, 1)
        if not isinstance(value, int) or value < 1:
            errors.append(checks.Error(f'SENDER["{key}"] must be a positive integer.', id="sender.E008"))
    return errors
