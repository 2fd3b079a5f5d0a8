"""`make run` and `make run-scale` start the same loopback gateways (sender/dev/sandboxes.py):
one for a method pointed at loopback, none for a real gateway, and each is named."""

import smtplib

import pytest

from sender.dev.management.commands.run_scale import worker_commands
from sender.dev.sandboxes import sandboxes
from tests.smtp import free_port


def email_only(settings, host: str, port: int) -> None:
    email = settings.SENDER["METHODS"]["email"]
    settings.SENDER = {**settings.SENDER, "METHODS": {
        "email": {**email, "OPTIONS": {**email["OPTIONS"], "host": host, "port": port}}}}


def test_a_loopback_relay_gets_the_mail_sandbox_and_it_is_said(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    port = free_port()
    email_only(settings, "127.0.0.1", port)
    said = []
    with sandboxes("http://127.0.0.1:8000/telegram/webhook/", said.append, said.append):
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            assert smtp.noop()[0] == 250
    assert said == [f"Mail sandbox: messages sent by email land in {tmp_path / 'mail'}"]
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)  # stopped with the command


def test_a_real_relay_gets_no_sandbox_and_it_is_said(settings):
    email_only(settings, "smtp.example.com", 587)
    said = []
    with sandboxes("http://127.0.0.1:8000/telegram/webhook/", said.append, said.append):
        pass
    assert said == ["Email goes to the real relay smtp.example.com (no mail sandbox)."]


def test_run_scale_gives_each_named_queue_its_workers_and_one_for_the_rest():
    commands = [c[c.index("--queue-name"):c.index("--worker-id")] for c in worker_commands(4, ["email=2", "sms=1"])]
    assert commands == [["--queue-name", "email"], ["--queue-name", "email"], ["--queue-name", "sms"],
                        ["--queue-name", "*", "--exclude-queues", "email,sms"]]
    assert [c[c.index("--queue-name") + 1] for c in worker_commands(3, [])] == ["*", "*", "*"]
