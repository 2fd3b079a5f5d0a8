"""The header's unread counter over a websocket, for a person with recipient records.

A socket carries only its own user's count: the route takes no id, the user comes from the
session. Anonymous users and users without a recipient record are refused with 4403. The
count is pushed on connect, on layer events (live.py), and when a database poll every
POLL_SECONDS finds it changed (events from worker processes do not cross the in-memory layer).
"""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .live import DELIVERED_GROUP, user_group
from .messages import unread_count
from .people import records_for

POLL_SECONDS = 3.0


class InboxCounterConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4403)
            return
        self.user = user
        if not await database_sync_to_async(records_for)(user):
            await self.close(code=4403)
            return
        self.last: int | None = None
        self.groups_joined = [DELIVERED_GROUP, user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self._refresh()
        self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if hasattr(self, "poller"):
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller

    async def inbox_changed(self, event: dict) -> None:
        await self._refresh()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._refresh()

    async def _refresh(self) -> None:
        count = await self._count()
        if count != self.last:
            self.last = count
            await self.send_json({"unread": count})

    @database_sync_to_async
    def _count(self) -> int:
        return unread_count(records_for(self.user), self.user)
