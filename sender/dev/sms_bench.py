"""`sender_bench --method sms --gateways 2`: the SMS method sends through two Skebby gateways
kept in the database, each a sandbox of its own, and the first starts failing half-way (503 on
every send from then on). Every number must reach exactly one of them, once; the sends that
went through, per 1,000 numbers, are the same as with one gateway."""

import math
import os
from collections import Counter
from typing import Any

from sender.channels.sms.models import SmsGateway
from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState

SECRET_ENV = "SENDER_BENCH_SKEBBY_PASSWORD"


class FailoverGateways:
    """Two counting Skebby sandboxes behind two SmsGateway rows (priority 1 and 2)."""

    kind = "skebby-sandbox x2, the first failing half-way"

    def __init__(self, sender: dict[str, Any], valid: int, batch_size: int):
        self.sender = sender
        self.servers = [SkebbySandbox(state=SkebbyState(step=3600)) for _ in range(2)]
        orders = math.ceil(valid / batch_size)  # one gateway call per delivery batch (batch ≤ the gateway's size)
        self.servers[0].state.faults.fail_from = orders // 2 + 1
        for server in self.servers:
            server.state.record_requests = False

    def __enter__(self) -> "FailoverGateways":
        os.environ[SECRET_ENV] = "sandbox"  # worker subprocesses inherit it
        for i, server in enumerate(self.servers, start=1):
            server.start()
            SmsGateway.objects.create(name=f"skebby-{i}", kind=SmsGateway.Kind.SKEBBY, url=server.url,
                                      username="sandbox", secret_env=SECRET_ENV, priority=i, batch_size=1000,
                                      timeout=10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def sender_settings(self) -> dict[str, Any]:
        methods = dict(self.sender["METHODS"])
        sms = methods["sms"]
        methods["sms"] = {**sms, "OPTIONS": {**sms.get("OPTIONS", {}), "backend": "gateways", "poll_interval": 3600}}
        return {**self.sender, "METHODS": methods}

    def stop(self) -> int:
        """Stop both sandboxes (once); return how many messages they accepted together."""
        for server in self.servers:
            if server.thread is not None:
                server.stop()
                server.thread = None
        return sum(server.state.summary()["messages"] for server in self.servers)

    def summary(self) -> dict[str, Any]:
        """Calls at each gateway, the sends that went through per 1,000 numbers, and the
        numbers that reached a gateway more than once (or both)."""
        states = [server.state for server in self.servers]
        both: Counter = Counter()
        for state in states:
            both.update(state.received)
        numbers = len(both)
        orders = sum(len(state.orders) for state in states)
        return {
            "calls": {f"skebby-{i}": dict(state.calls) for i, state in enumerate(states, start=1)},
            "orders_by_gateway": [len(state.orders) for state in states],
            "numbers_by_gateway": [len(state.received) for state in states],
            "orders_per_1000": round(orders * 1000 / numbers, 2) if numbers else None,
            "twice": sorted(n for n, c in both.items() if c > 1),
        }
