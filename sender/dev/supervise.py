"""Running the product's processes side by side, for `run_sender` and `run_scale`."""

import signal
import subprocess
import sys
import time

from django.conf import settings


def manage(*args: str) -> list[str]:
    """The command line of a `manage.py` command in this interpreter."""
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]


def daphne(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "project.asgi:application"]


def supervise(commands: list[list[str]], grace: float = 30) -> None:
    """Start every command; return when Ctrl-C or SIGTERM arrives or one of them exits, after
    stopping the others (SIGTERM, so workers finish or release their batch; SIGKILL after
    `grace` seconds)."""
    children = [subprocess.Popen(command) for command in commands]
    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.kill()
