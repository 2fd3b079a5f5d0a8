"""System checks for the shape of the SENDER setting: clear messages at startup, not errors
at send time. The send methods and recipient models are checked by their own layers
(sender/channels/checks.py, sender/audience/checks.py)."""

from django.conf import settings
from django.core import checks


@checks.register("sender")
def check_sender_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    config = getattr(settings, "SENDER", None)
    if not isinstance(config, dict):
        return [checks.Error("settings.SENDER must be a dict.", id="sender.E001")]
    errors: list[checks.CheckMessage] = []
    for key in ("BATCH_SIZE", "MAX_ATTEMPTS", "LEASE_SECONDS", "CHECKPOINT_ROWS"):
        value = config.get(key, 1)
        if not isinstance(value, int) or value < 1:
            errors.append(checks.Error(f'SENDER["{key}"] must be a positive integer.', id="sender.E008"))
    above = config.get("COMMIT_IN_TASK_ABOVE", 0)
    if not isinstance(above, int) or above < 0:
        errors.append(checks.Error('SENDER["COMMIT_IN_TASK_ABOVE"] must be a whole number ≥ 0.', id="sender.E010"))
    queues = getattr(settings, "TASKS", {}).get("default", {}).get("QUEUES", ["default"])
    missing = [alias for alias in config.get("METHODS", {}) if queues and alias not in queues]
    if missing:
        errors.append(checks.Error(
            f'TASKS["default"]["QUEUES"] lacks the queue of send method(s) {", ".join(missing)}.',
            hint='Each method\'s batches go to a queue named by its alias: set "QUEUES": [] (any) or list them.',
            id="sender.E009"))
    return errors
