"""Received SMS: read by our own position in the gateway's history, none lost when a round
dies between fetching and storing, odd payloads skipped, and off unless the account has it."""

import signal
import subprocess
import sys
from collections import Counter

from django.conf import settings

from sender.channels.sms.models import GatewayState
from sender.channels.sms.tracking import poll_round
from sender.models import IncomingMessage
from tests.processes import process_env
from tests.sms.test_delivery import with_options


def poll_in_a_process(skebby) -> subprocess.Popen:
    """One polling round in a process of its own (the project's settings, pointed at the sandbox)."""
    env = process_env(DJANGO_SETTINGS_MODULE="project.settings", SENDER_SMS_BACKEND="skebby",
                      SENDER_SKEBBY_URL=skebby.url, SENDER_SKEBBY_USERNAME="sandbox",
                      SENDER_SKEBBY_PASSWORD="sandbox", SENDER_SKEBBY_INCOMING="on")
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c",
               "from sender.channels.sms.tracking import poll_round; poll_round('sms')"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_round_killed_between_fetching_and_storing_loses_no_reply_and_stores_none_twice(skebby, transactional_db):
    for i in range(150):  # two pages of 100
        skebby.state.receive(f"+39347{i:07d}", f"reply {i}")
    asked, victim = [], {}

    def kill_the_poller_on_the_second_page() -> None:
        asked.append(1)
        if len(asked) == 2:  # the gateway has served the page; the poller dies before storing it
            victim["process"].send_signal(signal.SIGKILL)
            victim["process"].wait()

    skebby.state.faults.before_received_answer = kill_the_poller_on_the_second_page
    victim["process"] = poll_in_a_process(skebby)
    output, _ = victim["process"].communicate(timeout=120)
    assert victim["process"].returncode == -signal.SIGKILL, output
    skebby.state.faults.before_received_answer = None

    poll_round("sms")  # the next round
    poll_round("sms")  # and one more: nothing new
    stored = Counter(IncomingMessage.objects.values_list("text", flat=True))
    assert stored == Counter(f"reply {i}" for i in range(150))  # each reply exactly once


def test_a_received_sms_with_missing_or_renamed_fields_is_skipped_and_the_round_reads_the_credit(skebby, db, caplog):
    skebby.state.credits = {"GP": 120, "TI": 7, "SI": 3}
    skebby.state.receive("+393471234567", "Sì")
    renamed = skebby.state.receive("+393471234568", "No")
    renamed["text"] = renamed.pop("message")
    missing = skebby.state.receive("+393471234569", "Forse")
    del missing["id_message"]
    poll_round("sms")
    assert list(IncomingMessage.objects.values_list("text", flat=True)) == ["Sì"]
    state = GatewayState.objects.get(method="sms")
    assert state.credits == {"GP": 120, "TI": 7, "SI": 3} and state.error == ""
    assert "Skipped a received SMS without 'message'" in caplog.text
    assert "Skipped a received SMS without 'id_message'" in caplog.text


def test_received_sms_are_not_fetched_when_the_account_has_them_off(skebby, db, settings):
    with_options(settings, skebby, incoming=False)
    skebby.state.receive("+393471234567", "Sì")
    poll_round("sms")
    assert skebby.calls("GET srsmshistory") == skebby.calls("GET newsrsmsmessage") == 0
    assert not IncomingMessage.objects.exists()
    assert GatewayState.objects.get(method="sms").credits_at is not None  # the round still read the credit
