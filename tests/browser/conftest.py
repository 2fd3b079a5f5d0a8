"""The real product for browser tests: daphne (HTTP + websockets) and a task worker as
processes on the test database, driven by Playwright in Debian's headless Chromium."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from tests.processes import database_url
from tests.smtp import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make test installs it)"
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (make test installs it when it runs as root with apt)"
    return None


@pytest.fixture
def product(transactional_db, smtp_server):
    """Start the ASGI server and a worker on the test database; yield the base URL."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SENDER_SMTP_PORT": str(smtp_server.port),
        "SENDER_ATTACHMENTS_DIR": str(Path(settings.STORAGES["attachments"]["OPTIONS"]["location"])),
    }
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    processes = [
        subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([*manage, "db_worker", "--queue-name", "*", "--interval", "0.2", "--no-startup-delay"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/accounts/login/")
        yield url
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# Reports every Content-Security-Policy violation to the test, from every page and frame.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportCspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline code"} in ${e.sourceFile || e.documentURI}:${e.lineNumber}`));
"""


@pytest.fixture
def page(product, monkeypatch):
    """A Chromium page on the product; the test fails if any page it opened broke the
    Content-Security-Policy (a blocked script, style, image, socket or form)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
        context = browser.new_context(base_url=product, viewport={"width": 1280, "height": 900})
        violations: list[str] = []
        context.expose_function("reportCspViolation", lambda report: violations.append(report))
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", lambda message: violations.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.set_default_timeout(15_000)
        yield page
        if not page.is_closed():
            page.evaluate("0")  # a round trip, so reports still on their way arrive
        browser.close()
        # The test's ORM calls made while Playwright's block is open can hold a connection
        # of their own (Django keeps connections per context, and Playwright switches
        # greenlets, each with its context), which pytest-django never sees: closed here, or
        # it would keep the PostgreSQL test database from being dropped at the end of the run.
        connections.close_all()
    assert violations == [], "the Content-Security-Policy blocked:\n" + "\n".join(violations)


def shot(page, name: str) -> None:
    """Screenshot a step; into the README's folder only with SENDER_SCREENSHOTS=1 (`make
    screenshots`), so an ordinary test run leaves the tree as it was."""
    folder = SCREENSHOTS if os.environ.get("SENDER_SCREENSHOTS") else Path(tempfile.gettempdir()) / "sender-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
