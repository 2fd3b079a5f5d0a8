"""Progress events on the channel layer, one group per broadcast.

Watchers (the broadcast page's websocket) join `group_name(broadcast_id)`. Two kinds of
event reach them:

- `broadcast.progress`: the counters of one method, after they moved. Checkpoints (the end
  of a batch, pause, cancel, resume, commit) publish at once; changes in between (every
  chunk a worker records, every group of delivery reports) go through `changed()`, which
  publishes from a timer thread at most once per INTERVAL per method, so 100,000 rows or
  receipts never mean 100,000 events, and the writer never waits for the layer.
- `broadcast.page`: something else the page shows moved (a reader, a reply).

When the layer crosses processes (Redis), watchers read the database once when they
connect and then only relay these events. With the in-memory layer the watchers poll the
database anyway, and `changed()` does nothing.

A layer that is down never stops delivery: the event is logged and dropped.
"""

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import connections
from django.dispatch import receiver

from sender.formats import money
from sender.models import IncomingMessage, MessageSent
from sender.signals import message_read, message_received, message_status_changed

logger = logging.getLogger(__name__)
INTERVAL = 0.25
"""Seconds between two publishes of the same method's counters between checkpoints."""


def group_name(broadcast_id: int) -> str:
    return f"broadcast-{broadcast_id}"


def crosses_processes(layer: BaseChannelLayer | None) -> bool:
    """Whether events sent by a worker process reach sockets served by another process."""
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def counters(sent: MessageSent) -> dict:
    """What a watcher shows of one method of a broadcast."""
    return {
        "status": sent.status,
        "status_display": str(sent.get_status_display()),
        **sent.counts(),
        "total": sent.total,
        "cost": str(sent.cost),
        "cost_display": money(sent.cost),
    }


def _group_send(broadcast_id: int, event: dict | Callable[[], dict]) -> None:
    """Send `event` (or what the callable makes: built only when someone may receive it)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer) and group_name(broadcast_id) not in layer.groups:
        return  # nobody watches in this process: skip the hop through async_to_sync (a thread per call)
    try:
        async_to_sync(layer.group_send)(group_name(broadcast_id), event() if callable(event) else event)
    except Exception:  # the layer is an optional observer; delivery must go on without it
        logger.warning("Could not publish progress for broadcast %s", broadcast_id, exc_info=True)


def publish(sent: MessageSent) -> None:
    """Publish the counters of `sent` as they are on the instance, now (a checkpoint)."""
    _coalesced.mark(sent.pk)
    # The counters (a status label and money formatted) are made only for a watcher: a send
    # from code publishes after every call, usually to nobody.
    _group_send(sent.broadcast_id, lambda: {"type": "broadcast.progress", "sent_id": sent.pk, "method": sent.method,
                                            **counters(sent)})


def _publish_fresh(sent_id: int) -> None:
    sent = MessageSent.objects.filter(pk=sent_id).first()
    if sent is not None:
        publish(sent)


class Coalescer:
    """Calls `send(key)` on a timer thread, at most once per `interval` seconds for each key:
    the changes that come while a call is waiting are folded into it, and it reads the state
    when it runs, so the last change is always in the last call. The caller's thread never
    waits and never queries. When `enabled()` says no (the in-memory layer, whose sockets
    poll), changes are dropped."""

    def __init__(self, send: Callable[[Hashable], None], interval: float = INTERVAL,
                 enabled: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.monotonic,
                 timer: Callable[..., threading.Timer] = threading.Timer) -> None:
        self.send, self.interval, self.enabled, self.clock, self.timer = send, interval, enabled, clock, timer
        self.lock = threading.Lock()
        self.last: dict[Hashable, float] = {}
        self.scheduled: set[Hashable] = set()
        self.timers: set[threading.Timer] = set()

    def __call__(self, key: Hashable) -> None:
        if not self.enabled():
            return
        with self.lock:
            if key in self.scheduled:
                return
            self.scheduled.add(key)
            wait = max(self.last.get(key, float("-inf")) + self.interval - self.clock(), 0.0)
            timer = self.timer(wait, self._fire, [key])
            self.timers.add(timer)
        timer.start()

    def cancel(self) -> None:
        """Drop the calls still waiting and wait for those running, so that nothing queries
        after the caller has closed the database (a test's teardown; a process that exits
        needs none of this: Python joins the timer threads, at most `interval` away)."""
        with self.lock:
            timers, self.timers = self.timers, set()
            self.scheduled.clear()
        for timer in timers:
            timer.cancel()
            if timer.is_alive() and timer is not threading.current_thread():
                timer.join()

    def mark(self, key: Hashable) -> None:
        """`key` was just sent by other means: the interval starts again."""
        with self.lock:
            self._mark(key, self.clock())

    def _mark(self, key: Hashable, now: float) -> None:
        if len(self.last) > 1000:  # a long-lived process forgets methods no longer moving
            self.last = {k: t for k, t in self.last.items() if t > now - self.interval}
        self.last[key] = now

    def _fire(self, key: Hashable) -> None:
        with self.lock:
            self.scheduled.discard(key)
            self._mark(key, self.clock())
        try:
            self.send(key)
        finally:
            connections.close_all()  # the timer thread's own connections
            with self.lock:
                self.timers.discard(threading.current_thread())


_coalesced = Coalescer(_publish_fresh, enabled=lambda: crosses_processes(get_channel_layer()))


def changed(sent_id: int) -> None:
    """The counters of MessageSent `sent_id` moved between checkpoints: publish them soon."""
    _coalesced(sent_id)


def cancel_pending() -> None:
    """Drop the publications still waiting on their timers (see `Coalescer.cancel`)."""
    _coalesced.cancel()


def page_changed(broadcast_ids: Iterable[int]) -> None:
    """Something the broadcast page shows besides the counters moved: its watchers reload it."""
    for broadcast_id in set(broadcast_ids):
        _group_send(broadcast_id, {"type": "broadcast.page"})


@receiver(message_status_changed, dispatch_uid="sender_pipeline_progress")
def _receipts_moved_rows(sender, message_sent_id: int, **kwargs) -> None:
    """Delivery reports changed rows after sending: watchers see the new counters."""
    changed(message_sent_id)


@receiver(message_read, dispatch_uid="sender_pipeline_progress_read")
def _someone_read(sender, message_sent_ids: list[int], **kwargs) -> None:
    page_changed(MessageSent.objects.filter(pk__in=message_sent_ids).values_list("broadcast_id", flat=True))


@receiver(message_received, dispatch_uid="sender_pipeline_progress_replies")
def _someone_replied(sender, messages: list[IncomingMessage], **kwargs) -> None:
    sent_ids = [m.message_sent_id for m in messages if m.message_sent_id]
    if sent_ids:
        page_changed(MessageSent.objects.filter(pk__in=sent_ids).values_list("broadcast_id", flat=True))
