"""Shared rate limits (sender.ratelimit): the database backend, and Redis when the run has it,
keep a limit across limiters that share nothing but the store (as worker processes do), and
an SMTP relay's optional rate holds at the real SMTP server."""

import os
import threading
import time

import pytest
from django.db import connection

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageSent
from sender.pipeline.commit import commit
from sender.ratelimit import Limit, RedisLimiter, wait_turn
from sender.ratewindow import DatabaseLimiter
from tests.factories import customers


def most_within(times: list[float], period: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - period:
            start += 1
        best = max(best, end - start + 1)
    return best


def backends() -> list:
    found = [pytest.param(DatabaseLimiter, id="database")]
    if os.environ.get("REDIS_URL"):
        prefix = f"{os.environ.get('SENDER_REDIS_PREFIX', 'sender-test')}-{time.time_ns()}"
        found.append(pytest.param(lambda: RedisLimiter(os.environ["REDIS_URL"], prefix), id="redis"))
    return found


@pytest.mark.parametrize("make", backends())
def test_limiters_sharing_only_the_store_never_exceed_the_limit_together(make, transactional_db):
    # Counted over longer than checked, as callers do (a margin for the time between the
    # grant and the stamp below, on a loaded machine); unshared, 4 limiters would let 20 go.
    limit = Limit("test:together", 5, 0.75)
    granted: list[float] = []
    lock = threading.Lock()

    def process() -> None:  # its own limiter and, for the database, its own connection
        limiter = make()
        try:
            for _ in range(6):
                wait_turn([limit], limiter)
                with lock:
                    granted.append(time.monotonic())
        finally:
            connection.close()

    threads = [threading.Thread(target=process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 24
    assert most_within(granted, 0.5) <= 5


@pytest.mark.parametrize("make", backends())
def test_a_busy_chat_holds_only_its_own_calls(make, transactional_db):
    limiter = make()
    overall = Limit("test:bot:all", 10, 60.0)  # periods far longer than the test takes
    chat_a, chat_b = Limit("test:bot:chat:1", 1, 60.0), Limit("test:bot:chat:2", 1, 60.0)

    assert limiter.acquire([overall, chat_a]) == (0.0, -1)
    wait, which = limiter.acquire([overall, chat_a])
    assert which == 1 and 50 < wait <= 60  # held by chat 1's interval, not by the bot's rate
    assert limiter.acquire([overall, chat_b]) == (0.0, -1)
    refused = [limiter.acquire([overall, chat_a])[1] for _ in range(20)]
    assert set(refused) == {1}
    # The refused calls took no place in the overall window: eight more chats still go now.
    assert all(limiter.acquire([overall, Limit(f"test:bot:chat:{n}", 1, 60.0)]) == (0.0, -1) for n in range(3, 11))
    assert limiter.acquire([overall, Limit("test:bot:chat:11", 1, 60.0)])[1] == 0


def test_an_smtp_relays_rate_holds_at_the_server(sender_user, smtp_server, run_worker, settings):
    email = settings.SENDER["METHODS"]["email"]
    settings.SENDER = {**settings.SENDER, "METHODS": {
        **settings.SENDER["METHODS"], "email": {**email, "OPTIONS": {**email["OPTIONS"], "rate": 10}}}}
    customers(25)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["email"],
                       Draft(body="Hello", subject="Paced"), "paced")

    run_worker()

    assert broadcast.sents.get().status == MessageSent.Status.DONE
    times = smtp_server.handler.times
    assert len(times) == 25
    assert most_within(times, 1.0) <= 10
