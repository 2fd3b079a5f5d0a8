"""Test settings: the project's, plus a test app whose models use the recipient mixin."""

import os
import tempfile

from project.settings import *  # noqa: F403
from project.settings import CACHES, CHANNEL_LAYERS, DATABASES, INSTALLED_APPS, SENDER

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
SENDER = {**SENDER, "RECIPIENT_MODELS": [*SENDER["RECIPIENT_MODELS"], "testapp.Student", "testapp.Parent", "testapp.Contact"]}

# Fast password hashing: tests create many users; strength is not what they test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# SQLite tests use a file, not memory, so the worker and server processes that browser and
# worker tests start see the same data.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"sender-test-{os.getpid()}.sqlite3")}
else:
    # PostgreSQL (DATABASE_URL=postgres://...): pytest-django creates the test database; one
    # name per process, so concurrent runs on the same server never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME'] or 'sender'}_{os.getpid()}"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # worker subprocesses and tests drop databases

# The crash journal: one folder per run, shared with the worker processes a test starts.
os.environ.setdefault("SENDER_JOURNAL_DIR", os.path.join(tempfile.gettempdir(), f"sender-test-journal-{os.getpid()}"))
SENDER["JOURNAL_DIR"] = os.environ["SENDER_JOURNAL_DIR"]

# Redis (REDIS_URL): concurrent runs share the server, so each prefixes its own channel names.
if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):
    # Processes a test starts inherit the prefix through SENDER_REDIS_PREFIX.
    os.environ.setdefault("SENDER_REDIS_PREFIX", f"sender-test-{os.getpid()}")
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["SENDER_REDIS_PREFIX"]
    SENDER["RATE_LIMITER"]["OPTIONS"]["prefix"] = os.environ["SENDER_REDIS_PREFIX"]
    CACHES["default"]["KEY_PREFIX"] = os.environ["SENDER_REDIS_PREFIX"]

# The sandboxes, demo data and benchmarks the tests drive, whatever DJANGO_DEBUG says.
if "sender.dev" not in INSTALLED_APPS:
    INSTALLED_APPS.append("sender.dev")
