"""Real worker processes against a real SMTP server, on whichever database the run uses
(SQLite by default; PostgreSQL and Redis when `make test` finds them)."""

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import override_settings

from tests.processes import process_env
from tests.smtp import Recorder, SMTPServer


class SlowRecorder(Recorder):
    """Takes `delay` seconds per message, so a test can act while a worker is mid-batch."""

    delay = 0.0

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class Worker:
    """One `manage.py db_worker` process (no autoreloader: signals reach the worker itself)."""

    def __init__(self, name: str, env: dict[str, str], batch: bool, queue: str = "*"):
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker", "--no-reload",
                   "--no-startup-delay", "--interval", "0.05", "--queue-name", queue, "--worker-id", name]
        if batch:
            command.append("--batch")
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 120) -> tuple[int, str]:
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def slow_smtp():
    server = SMTPServer()
    server.handler = SlowRecorder()
    server.controller.handler = server.handler
    server.start()
    try:
        with override_settings(SENDER=server.sender_settings()):
            yield server
    finally:
        server.stop()


@pytest.fixture
def workers(transactional_db, slow_smtp) -> Callable[..., Worker]:
    """Start worker processes on the test database and the test SMTP server; all are
    killed at the end of the test whatever happens."""
    started: list[Worker] = []

    def start(name: str, batch: bool = True, queue: str = "*", **sender_env: str) -> Worker:
        env = process_env(DJANGO_SETTINGS_MODULE="project.settings", SENDER_SMTP_PORT=str(slow_smtp.port),
                          SENDER_LOG_LEVEL="INFO", **sender_env)
        worker = Worker(name, env, batch, queue)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    """Poll `condition` (not a timed assertion: only a ceiling so a broken run ends)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what or condition}")
        time.sleep(0.02)


