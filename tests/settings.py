"""Test settings: the project's, plus a test app whose models use the recipient mixin."""

import os
import tempfile

from project.settings import *  # noqa: F403
from project.settings import DATABASES, INSTALLED_APPS, SENDER

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
SENDER = {**SENDER, "RECIPIENT_MODELS": [*SENDER["RECIPIENT_MODELS"], "testapp.Student", "testapp.Parent"]}

# Fast password hashing: tests create many users; strength is not what they test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# SQLite tests use a file, not memory, so the worker and server processes that browser and
# worker tests start see the same data.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"sender-test-{os.getpid()}.sqlite3")}
