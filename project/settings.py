"""Settings for Sender. The only module that reads the environment.

Every value has a safe development default (SQLite, in-memory channel layer, the
database task backend, sandbox gateways on loopback); production sets the
environment variables named below.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SENDER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file, attachments, collected static


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Turn `sqlite:///path` or `postgres://user@host:port/name` into a DATABASES entry."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]) or str(VAR_DIR / "sender.sqlite3"),
            "OPTIONS": {
                # WAL lets the web server read while a worker writes; IMMEDIATE makes
                # writers queue on the lock instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path[1:]),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "OPTIONS": options,
        }
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite:// or postgres://)")


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "dev-only-insecure-key" if DEBUG else None
)
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tasks_db",
    "channels",
    # Sender, one app per layer (docs/architecture.md): the ledger, who receives, the channels,
    # compose → deliver, the recipients' inbox, and the faces.
    "sender",
    "sender.audience",
    "sender.channels",
    "sender.channels.sms",
    "sender.channels.telegram",
    "sender.pipeline",
    "sender.inbox",
    "sender.web",
    "sender.api",
]
# Sandboxes, demo data and benchmarks: development only (`make run`, the tests, `make bench`).
SENDER_DEV = env_bool("SENDER_DEV", DEBUG)
if SENDER_DEV:
    INSTALLED_APPS.append("sender.dev")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Every page may run only our own static scripts and styles: no inline script or style, no
# eval, no plugin, no framing, forms post only here. Attachments, thumbnails and the admin's
# icons are same-origin images, charts inline SVG; websockets are same-origin (CSP3's 'self'
# covers ws:/wss:). An inline script that cannot be avoided takes the per-request nonce
# (`{{ csp_nonce }}`).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.csp",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "sender.inbox.context.inbox",
                "sender.web.context.staff",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'sender.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("SENDER_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        # Every queue name is valid: each send method's batches go to a queue named by its alias.
        "QUEUES": [],
    }
}

REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.core.RedisChannelLayer",
         # The prefix lets several deployments (or test runs) share one Redis.
         "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("SENDER_REDIS_PREFIX", "asgi")}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# Login throttling counts attempts in the cache: shared through Redis when there is one.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
         "KEY_PREFIX": os.environ.get("SENDER_REDIS_PREFIX", "sender")}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sender:start"  # recipients to their inbox, staff to the dashboard
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = os.environ.get("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("it", _("Italian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["project.formats"]  # one English date format (project/formats/en)
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/Rome")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# In development whitenoise serves straight from the app folders; production collects first.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Attachments never sit under a public URL: they are served by a view that checks access.
    "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("SENDER_ATTACHMENTS_DIR", VAR_DIR / "attachments")},
    },
    # sender_archive writes old broadcasts' rows here (gzip CSV); e.g. an S3 storage in production.
    "archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("SENDER_ARCHIVE_DIR", VAR_DIR / "archive")},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Sender <sender@localhost>")
# Account emails (invitations, password resets) go through Django's default mailer, which
# takes host, port, credentials and TLS from the email send method below (one SMTP setup).
MAILERS = {"default": {"BACKEND": "sender.inbox.mail.EmailMethodBackend"}}

# Telegram: the real Bot API once SENDER_TELEGRAM_TOKEN is set, else the loopback sandbox.
TELEGRAM_SANDBOX_TOKEN = "123456789:SANDBOX-sender-bot-token"
_telegram_real = bool(os.environ.get("SENDER_TELEGRAM_TOKEN"))
TELEGRAM_API_URL = "https://api.telegram.org/bot" if _telegram_real else "http://127.0.0.1:8081/bot"
TELEGRAM_FILE_URL = "https://api.telegram.org/file/bot" if _telegram_real else "http://127.0.0.1:8081/file/bot"

# The send methods and everything else Sender needs, in one dict (see sender/conf.py).
SENDER = {
    "METHODS": {
        "email": {
            "BACKEND": "sender.channels.email.method.EmailMethod",
            "PRICE": os.environ.get("SENDER_EMAIL_PRICE", "0"),
            "OPTIONS": {
                # `make run` starts a loopback mail sandbox on 2525 (manage.py run_sender).
                "host": os.environ.get("SENDER_SMTP_HOST", "127.0.0.1"),
                "port": int(os.environ.get("SENDER_SMTP_PORT", "2525")),
                "username": os.environ.get("SENDER_SMTP_USER", ""),
                "password": os.environ.get("SENDER_SMTP_PASSWORD", ""),
                "use_tls": env_bool("SENDER_SMTP_TLS", False),
                "timeout": 30,
                "from_email": DEFAULT_FROM_EMAIL,
                # This site's public address: with it every email carries an unsubscribe link and
                # List-Unsubscribe headers (sender.api). Empty: no link.
                "site_url": os.environ.get("SENDER_SITE_URL", ""),
            },
        },
        "storage": {"BACKEND": "sender.channels.storage.method.StorageMethod"},
        "sms": {
            "BACKEND": "sender.channels.sms.method.SmsMethod",
            "CHECKPOINT_ROWS": 1000,  # after a crash at most this many SMS may be paid for twice
            "OPTIONS": {
                # skebby | console | file | locmem. `make run` starts a loopback Skebby sandbox on 8025.
                "backend": os.environ.get("SENDER_SMS_BACKEND", "skebby"),
                "url": os.environ.get("SENDER_SKEBBY_URL", "http://127.0.0.1:8025/API/v1.0/REST/" if DEBUG
                                      else "https://api.skebby.it/API/v1.0/REST/"),
                "username": os.environ.get("SENDER_SKEBBY_USERNAME", "sandbox" if DEBUG else ""),
                "password": os.environ.get("SENDER_SKEBBY_PASSWORD", "sandbox" if DEBUG else ""),
                "auth": os.environ.get("SENDER_SKEBBY_AUTH", "session"),  # or "token"
                "message_type": os.environ.get("SENDER_SMS_QUALITY", "GP"),  # GP Classic+, TI Classic, SI Basic
                "sender": os.environ.get("SENDER_SMS_SENDER", ""),  # an approved alias, GP only
                "prices": {  # per segment, per quality
                    "GP": os.environ.get("SENDER_SMS_PRICE_GP", "0.065"),
                    "TI": os.environ.get("SENDER_SMS_PRICE_TI", "0.045"),
                    "SI": os.environ.get("SENDER_SMS_PRICE_SI", "0.035"),
                },
                "max_segments": int(os.environ.get("SENDER_SMS_MAX_SEGMENTS", "7")),
                "batch_size": int(os.environ.get("SENDER_SMS_BATCH_SIZE", "1000")),  # numbers per gateway call
                "poll_interval": float(os.environ.get("SENDER_SMS_POLL_INTERVAL", "60")),
                "track_hours": float(os.environ.get("SENDER_SMS_TRACK_HOURS", "48")),
                # Fetch received SMS (replies): Skebby enables the endpoint per account, on request.
                "incoming": env_bool("SENDER_SKEBBY_INCOMING", DEBUG),
            },
        },
        "telegram": {
            "BACKEND": "sender.channels.telegram.method.TelegramMethod",
            "CHECKPOINT_ROWS": 1000,  # 33 s of sending at 30/s
            "PRICE": os.environ.get("SENDER_TELEGRAM_PRICE", "0"),
            "OPTIONS": {
                # No token set: in development, the loopback Bot API sandbox `make run` starts on 8081.
                "token": os.environ.get("SENDER_TELEGRAM_TOKEN", TELEGRAM_SANDBOX_TOKEN if DEBUG else ""),
                "base_url": os.environ.get("SENDER_TELEGRAM_API_URL", TELEGRAM_API_URL),
                "base_file_url": os.environ.get("SENDER_TELEGRAM_FILE_URL", TELEGRAM_FILE_URL),
                "webhook_secret": os.environ.get("SENDER_TELEGRAM_WEBHOOK_SECRET", "dev-webhook-secret" if DEBUG else ""),
                "rate": float(os.environ.get("SENDER_TELEGRAM_RATE", "30")),  # messages per second, all chats
                "chat_interval": float(os.environ.get("SENDER_TELEGRAM_CHAT_INTERVAL", "1")),  # seconds per chat
                "long_text": os.environ.get("SENDER_TELEGRAM_LONG_TEXT", "refuse"),  # or "split" (>4096 chars)
            },
        },
    },
    "RECIPIENT_MODELS": env_list(
        "SENDER_RECIPIENT_MODELS", "recipients.Customer,recipients.ExternalSubject"
    ),
    "SEND_GROUPS": env_list("SENDER_SEND_GROUPS", "Senders"),
    "BATCH_SIZE": int(os.environ.get("SENDER_BATCH_SIZE", "10000")),
    "MAX_ATTEMPTS": int(os.environ.get("SENDER_MAX_ATTEMPTS", "5")),
    "RETRY_BACKOFF": float(os.environ.get("SENDER_RETRY_BACKOFF", "30")),
    "RETRY_BACKOFF_MAX": float(os.environ.get("SENDER_RETRY_BACKOFF_MAX", "900")),
    "LEASE_SECONDS": int(os.environ.get("SENDER_LEASE_SECONDS", "300")),
    "CHECKPOINT_ROWS": int(os.environ.get("SENDER_CHECKPOINT_ROWS", "5000")),
    "JOURNAL_DIR": os.environ.get("SENDER_JOURNAL_DIR") or str(VAR_DIR / "journal"),
    "DEFAULT_REGION": os.environ.get("SENDER_DEFAULT_REGION", "IT"),
    "ATTACHMENT_MAX_BYTES": int(os.environ.get("SENDER_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))),
    # Behind a proxy: e.g. SENDER_LOGIN_CLIENT_IP_HEADER=HTTP_X_REAL_IP, or HTTP_X_FORWARDED_FOR with
    # SENDER_LOGIN_TRUSTED_PROXIES = how many proxies append to it (README, "Security").
    "LOGIN_CLIENT_IP_HEADER": os.environ.get("SENDER_LOGIN_CLIENT_IP_HEADER") or None,
    "LOGIN_TRUSTED_PROXIES": int(os.environ.get("SENDER_LOGIN_TRUSTED_PROXIES", "1")),
    # Rate limits (Telegram's, an SMS gateway's or SMTP relay's "rate") hold across every worker:
    # counted in Redis when there is one, else in the database.
    "RATE_LIMITER": (
        {"BACKEND": "sender.ratelimit.RedisLimiter",
         "OPTIONS": {"url": REDIS_URL, "prefix": os.environ.get("SENDER_REDIS_PREFIX", "sender")}}
        if REDIS_URL
        else {"BACKEND": "sender.ratewindow.DatabaseLimiter"}
    ),
}

if os.environ.get("SENDER_SMS_BACKEND") == "off":  # no SMS at all: no Skebby credentials needed
    del SENDER["METHODS"]["sms"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "sender.logs.KeyValueFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "sender.logs.JsonFormatter"},
    },
    # SENDER_LOG_FORMAT=json: one JSON object per line, with the broadcast id and batch as fields.
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": os.environ.get("SENDER_LOG_FORMAT", "plain")}},
    "loggers": {"sender": {"handlers": ["console"], "level": os.environ.get("SENDER_LOG_LEVEL", "INFO")}},
}

# Behind a proxy that terminates TLS, requests reach Django over plain HTTP. Set
# DJANGO_TRUST_X_FORWARDED_PROTO=1 only when that proxy sets (and overwrites) X-Forwarded-Proto
# on every request and Django cannot be reached without it: otherwise any client could claim
# HTTPS by sending the header itself.
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
