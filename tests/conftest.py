"""The shared fixture world: a sender with permission, a user without, an outsider;
a real SMTP server on loopback; the real task worker."""

import shutil
from pathlib import Path

import hypothesis
import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import override_settings
from django.utils import translation

from tests.smtp import SMTPServer

# Property tests explore the same examples on every run, so CI is a verdict on the code, not
# on the draw; `pytest --hypothesis-profile=default` explores new examples.
hypothesis.settings.register_profile("sender", derandomize=True, database=None)
hypothesis.settings.load_profile("sender")


def pytest_sessionfinish(session, exitstatus):
    """SQLite's WAL side files outlive the test database that pytest-django removes."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    for suffix in ("-wal", "-shm"):
        if name:
            Path(name + suffix).unlink(missing_ok=True)
    # The run's crash-journal folder (tests/settings.py); journals left by staged crashes with it.
    journals = Path(settings.SENDER["JOURNAL_DIR"])
    if journals.name.startswith("sender-test-journal-"):
        shutil.rmtree(journals, ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    """Attachments go to a per-test folder; tasks to the database backend (the real worker)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(tmp_path / "attachments")}},
    }
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    if not settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):  # REDIS_URL: the scale-out run
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """What one test leaves in the process must not reach the next: a progress publication
    still on its timer would query after the test's database is closed (so it is dropped
    before the fixtures' finalizers run, and again after, for any they scheduled), and a
    Skebby session would be offered to the next sandbox that happens to get the same port."""
    from sender.channels.sms import gateway
    from sender.pipeline import progress

    progress.cancel_pending()
    try:
        return (yield)
    finally:
        progress.cancel_pending()
        gateway.forget_sessions()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Italian leaves Italian active in the thread; each test starts in English."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_planner_statistics_left(request, django_db_blocker):
    """A test that commits an ANALYZE (sender_periodic, the benches) leaves SQLite statistics
    of its tiny tables behind, which would change later tests' plans (the plan tests assume
    none, as a fresh database has)."""
    yield
    if not {"transactional_db", "live_server"} & set(request.fixturenames):
        return  # in a test's transaction, the ANALYZE was rolled back with it
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")


@pytest.fixture
def sender_user(db) -> User:
    """Staff member allowed to send, through membership in the Senders group."""
    group, _ = Group.objects.get_or_create(name="Senders")
    user = User.objects.create_user("sally", "sally@example.com", "pw-sally-123", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def perm_user(db) -> User:
    """Staff member allowed to send through the send_message permission."""
    user = User.objects.create_user("paul", "paul@example.com", "pw-paul-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="send_message"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def nosend_user(db) -> User:
    """Staff member without the permission to send."""
    return User.objects.create_user("nina", "nina@example.com", "pw-nina-123", is_staff=True)


@pytest.fixture
def outsider(db) -> User:
    """A logged-in user with no staff role at all."""
    return User.objects.create_user("otto", "otto@example.com", "pw-otto-123")


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; the email method points at it."""
    server = SMTPServer()
    server.start()
    try:
        with override_settings(SENDER=server.sender_settings()):
            yield server
    finally:
        server.stop()


@pytest.fixture
def run_worker(transactional_db):
    """Run the real django-tasks-db worker until the queue is empty."""
    from tests.worker import run_worker as run

    return run
