"""`sender_bench --api`: sending from code into the Skebby sandbox on loopback.

Two figures: `send_mass_sms` of N numbers (gateway calls and SQL statements, whose targets
are ≤ 10 calls and ≤ N/500 + 50 statements for 10,000 numbers), and `send_text` to one
number (statements, target ≤ 15, and the time it adds to the gateway's own round trip,
target < 5 ms: the median send_text against the median bare gateway call, both over one
held session)."""

import statistics
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any
import time
import uuid

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from sender.channels.sms.backends import Sms
from sender.conf import sender_settings
from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState
from sender.direct import get_connection, send_mass_sms, send_text
from sender.direct.send import system_user
from sender.models import MessageRecipient

ROUNDS = 100


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _sms_settings(url: str) -> dict:
    sender = dict(sender_settings.METHODS)
    sms = dict(sender.get("sms") or {"BACKEND": "sender.channels.sms.method.SmsMethod"})
    sms["OPTIONS"] = {**sms.get("OPTIONS", {}), "backend": "skebby", "url": url, "username": "sandbox",
                      "password": "sandbox", "auth": "session", "message_type": "GP", "sender": ""}
    from django.conf import settings

    return {**settings.SENDER, "METHODS": {"sms": sms}}


def bench_api(n: int, profile: str | None = None, profiling: Callable[[str | None, str], Any] | None = None) -> dict:
    """`profiling(profile, "send_text")` (sender_bench's pyinstrument wrapper) profiles the
    send_text rounds into PROFILE-send_text.*"""
    profiling = profiling or (lambda path, phase: nullcontext())

    server = SkebbySandbox(state=SkebbyState(credits={"GP": 10 * n + 10 * ROUNDS})).start()
    try:
        with override_settings(SENDER=_sms_settings(server.url)):
            system_user()  # made once, before anything is counted
            numbers = [f"+39347{i:07d}" for i in range(n)]
            mass = _Counter()
            start = time.perf_counter()
            with connection.execute_wrapper(mass):
                rows = send_mass_sms([("Bench: one text to many numbers.", None, numbers)])
            mass_s = time.perf_counter() - start
            mass_calls = server.state.calls["POST sms"]
            sent = sum(1 for r in rows if r.status == MessageRecipient.Status.SENT)
            text_times, text_cpu, gateway_times, gateway_cpu = [], [], [], []
            with get_connection("sms") as held:
                with CaptureQueriesContext(connection) as counted:  # BEGIN and COMMIT included
                    send_text("Code", None, "+393480000000", connection=held)
                with profiling(profile, "send_text"):
                    for k in range(1, ROUNDS + 1):
                        start, cpu = time.perf_counter(), time.process_time()
                        send_text(f"Code {k}", None, f"+39348{k:07d}", connection=held)
                        text_times.append(time.perf_counter() - start)
                        text_cpu.append(time.process_time() - cpu)
                with held.method.hold() as backend:  # the same open session, called bare
                    for k in range(ROUNDS):
                        start, cpu = time.perf_counter(), time.process_time()
                        backend.send(Sms(uuid.uuid4().hex[:32], f"Code {k}", "gsm", "GP", "", [f"+39349{k:07d}"]))
                        gateway_times.append(time.perf_counter() - start)
                        gateway_cpu.append(time.process_time() - cpu)
    finally:
        server.stop()
    ms = lambda values: round(statistics.median(values) * 1000, 2)  # noqa: E731
    return {
        "n": n, "mass_sent": sent, "mass_gateway_calls": mass_calls, "mass_sql": mass.count,
        "mass_sql_target": n // 500 + 50, "mass_s": round(mass_s, 3), "send_text_sql": len(counted),
        "send_text_ms": ms(text_times), "gateway_ms": ms(gateway_times),
        "send_text_overhead_ms": round(ms(text_times) - ms(gateway_times), 2),
        # CPU time of this process (the sandbox is a thread of it): what the code costs, without
        # the time spent waiting for a core on a loaded machine.
        "send_text_cpu_ms": ms(text_cpu), "gateway_cpu_ms": ms(gateway_cpu),
        "send_text_overhead_cpu_ms": round(ms(text_cpu) - ms(gateway_cpu), 2),
    }
