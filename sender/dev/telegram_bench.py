"""`sender_bench --method telegram`: a broadcast to N linked chats against the sandbox Bot API
at Telegram's real limits, in the bench's throwaway database. Reports the sustained rate
against the sandbox's limit, and every 429 (the sandbox refuses above the limit).

With `kill`, one of the worker processes is SIGKILLed once a third of the chats have their
message, and the sandbox counts what arrived: chats never reached (lost), messages that went
twice, and rows marked "may have arrived twice"."""

import time
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count
from django.test import override_settings

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.dev.sandbox import telegram as sandbox
from sender.dev.sandbox.telegram import DEFAULT_TOKEN
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit

FIRST_CHAT = 10_000_000


def bench_telegram(n: int, user: User, run_worker, rate: float = 30, chat_interval: float = 1.0,
                   batch_size: int | None = None, kill: bool = False, workers: int = 1) -> dict:
    with transaction.atomic():
        Customer.objects.bulk_create(
            (Customer(first_name="Bench", last_name=str(i), telegram_chat_id=str(FIRST_CHAT + i)) for i in range(n)),
            batch_size=2000)
    server = sandbox.start(rate=rate, chat_interval=chat_interval)
    # The method's own settings kept (its CHECKPOINT_ROWS, as the worker processes read them).
    config = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], "telegram": {
        **settings.SENDER["METHODS"].get("telegram", {}), "BACKEND": "sender.channels.telegram.method.TelegramMethod",
        "OPTIONS": {"token": DEFAULT_TOKEN, "base_url": server.base_url, "base_file_url": f"{server.url}/file/bot",
                    "rate": rate, "chat_interval": chat_interval}}}}
    if batch_size:
        config["BATCH_SIZE"] = batch_size
    # Worker processes read their settings from the environment.
    env = {"SENDER_TELEGRAM_TOKEN": DEFAULT_TOKEN, "SENDER_TELEGRAM_API_URL": server.base_url,
           "SENDER_TELEGRAM_FILE_URL": f"{server.url}/file/bot", "SENDER_TELEGRAM_RATE": str(rate),
           "SENDER_TELEGRAM_CHAT_INTERVAL": str(chat_interval)}
    try:
        with override_settings(SENDER=config):
            broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["telegram"],
                               Draft(body="Benchmark message over Telegram."), uuid.uuid4().hex)
            start = time.perf_counter()
            run_worker(env=env, kill_at=n // 3 if kill else None, progress=lambda: len(server.state.sent))
            deliver_s = time.perf_counter() - start
    finally:
        server.stop()
    state = server.state
    sent = MessageSent.objects.get(broadcast=broadcast, method="telegram")
    statuses = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("status")
                    .annotate(n=Count("id")))
    chats = len({s["chat_id"] for s in state.sent})
    crash = {}
    if kill:  # a chat in flight when the worker died may have had its message twice, and is marked
        crash = {"killed": 1, "lost": n - chats, "sent_twice": len(state.sent) - chats,
                 "marked": statuses.get("unknown", 0)}
        reasons = set(MessageRecipient.objects.filter(message_sent=sent, status="unknown")
                      .values_list("reason", flat=True))
        if crash["lost"] or statuses.get("delivered", 0) + crash["marked"] != n or any(
                "may have arrived twice" not in r for r in reasons):
            raise CommandError(f"Verification failed after the kill: rows {statuses}, sandbox received "
                               f"{len(state.sent)} messages for {chats} chats, expected {n}.")
    elif statuses != {"delivered": n} or chats != n or len(state.sent) != n:
        raise CommandError(f"Verification failed: rows {statuses}, sandbox received {len(state.sent)} messages "
                           f"for {chats} chats, expected {n}.")
    times = sorted(s["at"] for s in state.sent)
    span = times[-1] - times[0] if len(times) > 1 else 0
    sustained = (len(times) - 1) / span if span else None
    return {
        "n": n, "method": "telegram", "workers": workers, "batch_size": config.get("BATCH_SIZE"),
        "limit_per_s": rate, "chat_interval_s": chat_interval,
        "deliver_s": round(deliver_s, 3), "msgs_per_s": round(n / deliver_s, 2),
        "sustained_msgs_per_s": round(sustained, 2) if sustained else None,
        "percent_of_limit": round(100 * sustained / rate, 1) if sustained else None,
        "max_in_any_second": state.max_per_second(), "http_429": state.refused.get(429, 0),
        **crash, "verified": True,
    }
