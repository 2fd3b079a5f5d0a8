"""The database backend of sender.ratelimit: for deployments without Redis.

Each key is a `RateWindow` row locked for the time of one check (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE transactions queue writers), so every worker process sees the
calls of the others. Times are this machine's clock: processes on several machines need
their clocks synchronized (NTP), which the limits' margins cover.
"""

import time
from collections.abc import Sequence

from django.db import close_old_connections, transaction

from sender.models import RateWindow
from sender.ratelimit import Limit, window_wait

SWEEP_EVERY = 1000  # calls between two deletions of windows that limit nothing any more


class DatabaseLimiter:
    def __init__(self) -> None:
        self.calls = 0

    def acquire(self, limits: Sequence[Limit]) -> tuple[float, int]:
        try:
            return self._acquire(limits)
        finally:
            close_old_connections()  # runs in a gateway's own thread: honour CONN_MAX_AGE there too

    def _acquire(self, limits: Sequence[Limit]) -> tuple[float, int]:
        keys = sorted({limit.key for limit in limits})
        with transaction.atomic():
            rows = {row.key: row for row in RateWindow.objects.select_for_update().filter(key__in=keys).order_by("key")}
            if len(rows) < len(keys):
                missing = [RateWindow(key=k) for k in keys if k not in rows]
                RateWindow.objects.bulk_create(missing, ignore_conflicts=True)
                rows = {row.key: row for row in
                        RateWindow.objects.select_for_update().filter(key__in=keys).order_by("key")}
            now = time.time()
            waits = [window_wait(rows[limit.key].times, limit, now) for limit in limits]
            wait = max(waits)
            if wait > 0:
                return wait, waits.index(wait)
            for limit in limits:
                row = rows[limit.key]
                row.times = [t for t in row.times if t > now - limit.period][-(limit.n - 1):] + [now] \
                    if limit.n > 1 else [now]
                row.until = max(row.until, now + limit.period)
            RateWindow.objects.bulk_update(rows.values(), ["times", "until"])
        self.calls += 1
        if self.calls % SWEEP_EVERY == 0:
            RateWindow.objects.filter(until__lt=time.time() - 60).delete()
        return 0.0, -1
