"""The header's unread counter over a websocket, for a person with recipient records.

A socket carries only its own user's count: the route takes no id, the user comes from the
session. Anonymous users and users without a recipient record are refused with 4403. The
count is pushed on connect, on layer events (live.py), and when a database poll every
few seconds finds it changed (events from worker processes do not cross the in-memory layer).
"""

from channels.db import database_sync_to_async

from sender.inbox.live import DELIVERED_GROUP, user_group
from sender.inbox.messages import unread_count
from sender.inbox.people import records_for
from sender.web.consumers import LiveConsumer


class InboxCounterConsumer(LiveConsumer):
    poll_seconds = 3.0

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
        await self.join(DELIVERED_GROUP, user_group(user.pk))

    async def inbox_changed(self, event: dict) -> None:
        await self.poll()

    async def poll(self) -> bool:
        count = await self._count()
        if count != self.last:
            self.last = count
            await self.send_json({"unread": count})
        return True

    @database_sync_to_async
    def _count(self) -> int:
        return unread_count(records_for(self.user), self.user)
