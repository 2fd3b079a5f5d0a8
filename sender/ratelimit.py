"""Rate limits shared by every worker process and machine.

A `Limit` is "at most `n` calls in any `period` seconds under `key`" (Telegram's 30 a second
per bot, one a second per chat, 20 a minute per group; an SMS gateway's or an SMTP relay's
rate), with an optional smallest gap between two calls so a window's worth never leaves in
one burst. `acquire(limits)` checks every limit at once: it either takes a place in all of
them (wait 0) or in none, and says how long to wait and which limit held the call.

The backend comes from `SENDER["RATE_LIMITER"]`: Redis when `REDIS_URL` is set (a Lua script,
Redis's own clock), the database otherwise (sender.ratewindow, a locked row per key). A
gateway gets the backend passed in and never imports either (gateways know no ORM model).
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.module_loading import import_string

from sender.conf import sender_settings


@dataclass(frozen=True)
class Limit:
    """At most `n` calls in any `period` seconds under `key`, at least `min_gap` apart."""

    key: str
    n: int
    period: float
    min_gap: float = 0.0


class SharedLimiter(Protocol):
    def acquire(self, limits: Sequence[Limit]) -> tuple[float, int]:
        """(0.0, -1) when the call may go now (its place is taken in every limit), else
        (seconds to wait, index of the limit that holds it) and nothing is taken."""
        ...


def window_wait(times: Sequence[float], limit: Limit, now: float) -> float:
    """Seconds until `limit` lets one more call through, given its calls' `times` (oldest first)."""
    recent = [t for t in times if t > now - limit.period]
    wait = recent[-limit.n] + limit.period - now if len(recent) >= limit.n else 0.0
    if limit.min_gap and recent:
        wait = max(wait, recent[-1] + limit.min_gap - now)
    return wait


# Every key's window is a sorted set of call times (Redis's clock: one clock for every machine).
REDIS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait, which = 0, -1
for i, key in ipairs(KEYS) do
  local n, period, gap = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local count = redis.call('ZCARD', key)
  local w = 0
  if count >= n then
    w = tonumber(redis.call('ZRANGE', key, count - n, count - n, 'WITHSCORES')[2]) + period - now
  end
  if gap > 0 and count > 0 then
    w = math.max(w, tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]) + gap - now)
  end
  if w > wait then wait, which = w, i - 1 end
end
if wait <= 0 then
  for i, key in ipairs(KEYS) do
    local count = redis.call('ZCARD', key)
    redis.call('ZADD', key, now, string.format('%.6f:%d', now, count))
    redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[3*i-1]) * 1000) + 1000)
  end
end
return {tostring(wait), which}
"""


class RedisLimiter:
    """Windows in Redis: one round trip per call, atomic across every process and machine."""

    def __init__(self, url: str, prefix: str = "sender"):
        import redis  # only where Redis is configured

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(REDIS_SCRIPT)
        self.prefix = f"{prefix}:rate:"

    def acquire(self, limits: Sequence[Limit]) -> tuple[float, int]:
        args: list[Any] = []
        for limit in limits:
            args += [limit.n, repr(float(limit.period)), repr(float(limit.min_gap))]
        wait, which = self.script(keys=[self.prefix + limit.key for limit in limits], args=args)
        wait = float(wait)
        return (wait, int(which)) if wait > 0 else (0.0, -1)


_cache: dict[str, SharedLimiter] = {}
_cache_lock = threading.Lock()


def shared_limiter() -> SharedLimiter:
    """The configured backend (`SENDER["RATE_LIMITER"]`: BACKEND dotted path and OPTIONS),
    one per configuration and process."""
    config = sender_settings.RATE_LIMITER
    key = repr(config)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = import_string(config["BACKEND"])(**config.get("OPTIONS", {}))
        return _cache[key]


def wait_turn(limits: Sequence[Limit], limiter: SharedLimiter | None = None) -> None:
    """Block until a call may go under every one of `limits` (for the synchronous gateways)."""
    limiter = limiter or shared_limiter()
    while True:
        wait, _ = limiter.acquire(limits)
        if wait <= 0:
            return
        time.sleep(wait)


MARGIN = 1.04  # count a limit over a slightly longer time, so network jitter never crosses it
JITTER = 0.05  # seconds more: a loaded machine delays one call by that much whatever the rate


def per_second(key: str, rate: float) -> list[Limit]:
    """`rate` calls a second under `key` (a fraction too: 0.5 is one call every two seconds),
    spaced so no burst of a second's worth leaves at once; none for a rate of 0."""
    if not rate:
        return []
    n = max(1, int(rate))
    return [Limit(key, n, n / rate * MARGIN + JITTER, 0.8 / rate)]
