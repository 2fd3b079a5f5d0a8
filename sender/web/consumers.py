"""Live progress of a broadcast over a websocket, for staff who may see it.

Events arrive through the channel layer. When workers share it (Redis), every change is
published there (sender.pipeline.progress), so the consumer reads the database once when
the socket connects and then only relays. The embedded default's in-memory layer cannot
cross processes, so there the consumer also reads the counters from the database every
second while the broadcast is active; either way the page receives each change once.
"""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from sender.access import visible_broadcasts
from sender.models import IncomingMessage, MessageSent, MessageUserRead
from sender.permissions import is_staff
from sender.pipeline.cancel import ACTIVE
from sender.pipeline.progress import counters, crosses_processes, group_name


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """A socket fed by channel-layer groups and by a database poll every `poll_seconds`: the
    embedded default's in-memory layer cannot carry events from worker processes.

    A consumer whose events cover everything it shows sets `relay_only` : on a layer that
    crosses processes it then polls once, when it connects, and afterwards only relays."""

    poll_seconds = 1.0
    relay_only = True

    async def join(self, *groups: str) -> None:
        """Accept the socket, listen to `groups` and start polling (the first poll at once)."""
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.poller = asyncio.create_task(self._poll_loop())

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
        if hasattr(self, "poller"):
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller

    async def poll(self) -> bool:
        """Read the database once and send what changed; False ends the polling."""
        raise NotImplementedError

    def polls(self) -> bool:
        """Whether the database is read again after the first read at connect."""
        return not (self.relay_only and crosses_processes(self.channel_layer))

    async def _poll_loop(self) -> None:
        while await self.poll() and self.polls():
            await asyncio.sleep(self.poll_seconds)


class BroadcastProgressConsumer(LiveConsumer):
    """Counters of each method as they move, and a `{"kind": "page"}` nudge when something
    else the page shows changed (a reader, a reply): the page then reloads its live parts.

    Where it polls, the poll goes on after the last method is done, every
    `idle_poll_seconds`: delivery reports, reads and replies keep arriving long after
    sending ends."""

    idle_poll_seconds = 2.0
    relay_only = True

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.broadcast_id = self.scope["url_route"]["kwargs"]["broadcast_id"]
        if not (user and is_staff(user)) or not await self._may_see(user):
            await self.close(code=4403)
            return
        self.last: dict[int, dict] = {}
        self.page_version: tuple[int, int] | None = None
        await self.join(group_name(self.broadcast_id))

    async def broadcast_progress(self, event: dict) -> None:
        await self._send_if_changed({k: v for k, v in event.items() if k != "type"})

    async def broadcast_page(self, event: dict) -> None:
        await self.send_json({"kind": "page"})

    async def _send_if_changed(self, counters: dict) -> None:
        if self.last.get(counters["sent_id"]) != counters:
            self.last[counters["sent_id"]] = counters
            await self.send_json(counters)

    async def poll(self) -> bool:
        snapshot, version = await self._snapshot()
        for counters in snapshot:
            await self._send_if_changed(counters)
        if self.page_version is not None and version != self.page_version:
            await self.send_json({"kind": "page"})
        self.page_version = version
        active = any(c["status"] in ACTIVE for c in snapshot)
        self.poll_seconds = type(self).poll_seconds if active else self.idle_poll_seconds
        return True

    @database_sync_to_async
    def _may_see(self, user) -> bool:
        return visible_broadcasts(user).filter(pk=self.broadcast_id).exists()

    @database_sync_to_async
    def _snapshot(self) -> tuple[list[dict], tuple[int, int]]:
        counters_now = [{"sent_id": s.pk, "method": s.method, **counters(s)}
                        for s in MessageSent.objects.filter(broadcast_id=self.broadcast_id)]
        reads = MessageUserRead.objects.filter(message_sent__broadcast_id=self.broadcast_id).count()
        replies = IncomingMessage.objects.filter(message_sent__broadcast_id=self.broadcast_id).count()
        return counters_now, (reads, replies)
