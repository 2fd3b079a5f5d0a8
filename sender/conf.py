"""Sender's settings: the `SENDER` dict, with defaults, re-read when tests override it."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "METHODS": {},
    "RECIPIENT_MODELS": [],
    "SEND_GROUPS": [],
    "BATCH_SIZE": 10000,
    "MAX_ATTEMPTS": 5,
    "RETRY_BACKOFF": 30.0,
    "RETRY_BACKOFF_MAX": 900.0,
    "LEASE_SECONDS": 300,
    # Outcomes are written every this many rows: after a crash at most this many may go out twice.
    # A method may set its own (SENDER["METHODS"][alias]["CHECKPOINT_ROWS"]).
    "CHECKPOINT_ROWS": 5000,
    # Where each worker journals what the gateway took between checkpoints (sender/pipeline/journal.py);
    # None: `journal/` in VAR_DIR. Workers that take over each other's rows must share it.
    "JOURNAL_DIR": None,
    # A send whose selection counts more recipients than this writes its rows in a task, not in
    # the request that pressed Send (the broadcast shows "preparing" meanwhile). The API always does.
    "COMMIT_IN_TASK_ABOVE": 20000,
    # Login throttling (sender/throttle.py): failures allowed per username / per client address.
    "LOGIN_ATTEMPTS": 5,
    "LOGIN_ATTEMPTS_PER_IP": 30,
    "LOGIN_WINDOW_SECONDS": 900,
    # Behind a proxy: the header it writes the client's address in, and how many proxies append
    # to it (X-Forwarded-For: the entry this many from the right is the client's).
    "LOGIN_CLIENT_IP_HEADER": None,
    "LOGIN_TRUSTED_PROXIES": 1,
    # Password reset mails per mailbox / per client address within the window.
    "PASSWORD_RESETS": 3,
    "PASSWORD_RESETS_PER_IP": 10,
    "PASSWORD_RESET_WINDOW_SECONDS": 3600,
    "DEFAULT_REGION": "IT",
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "CURRENCY": "€",
    # Inbox: a field on each recipient model linking it to a user, or a resolver's dotted path.
    "RECIPIENT_USER": "user",
    # Hand attachment files to the web server: None, {"HEADER": "X-Accel-Redirect", "PREFIX":
    # "/_attachments/"} (nginx internal location) or {"HEADER": "X-Sendfile"} (Apache, a file path).
    "ATTACHMENT_SENDFILE": None,
    # The send method whose SMTP settings carry account emails (invitations, password resets).
    "ACCOUNT_EMAIL_METHOD": "email",
    # Where rate limits shared by every worker live (sender/ratelimit.py): the database by
    # default, Redis when configured ({"BACKEND": "sender.ratelimit.RedisLimiter", "OPTIONS": {"url": ...}}).
    "RATE_LIMITER": {"BACKEND": "sender.ratewindow.DatabaseLimiter"},
    # Models a broadcast may be billed to besides the recipient models ("app_label.Model"), as
    # the API and the `broadcast` command name them; code may bill any saved object.
    "BILLEE_MODELS": [],
    # The account sends from code (sender.send_text...) are recorded under when no user is given.
    "SYSTEM_USER": "sender-system",
    # Incoming SMS handlers, first match wins (sender/pipeline/answers.py): {"pattern": regex |
    # "keywords": [...] | "match": "dotted.predicate", "handler": "dotted.path"}. Keep the STOP one.
    "SMS_HANDLERS": [{"match": "sender.audience.optout.is_stop_word", "handler": "sender.pipeline.answers.opt_out"}],
}


class SenderSettings:
    """`sender_settings.BATCH_SIZE` reads `settings.SENDER["BATCH_SIZE"]` or its default."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown Sender setting: {name}")
        return getattr(settings, "SENDER", {}).get(name, DEFAULTS[name])


sender_settings = SenderSettings()

