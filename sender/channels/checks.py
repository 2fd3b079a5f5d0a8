"""System checks for SENDER["METHODS"]: each alias loads, and each method checks its options."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from sender.channels.registry import methods


@checks.register("sender")
def check_methods(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    config = getattr(settings, "SENDER", None)
    if not isinstance(config, dict):
        return []  # sender.E001 says so
    configured = config.get("METHODS")
    if not isinstance(configured, dict) or not configured:
        return [checks.Error('SENDER["METHODS"] must name at least one send method.', id="sender.E002")]
    errors: list[checks.CheckMessage] = []
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
    return errors
