"""New incoming Telegram messages, live, on a recipient's chat view (staff who may see them).

Messages stored in this process (the webhook under daphne) arrive through the channel
layer at once. The polling command runs in another process, which the in-memory layer
cannot cross, so the consumer also looks for newer rows every two seconds; either way
each message is sent once.
"""

from channels.db import database_sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.template.loader import render_to_string

from sender.audience.resolve import find_visible
from sender.channels.telegram.links import telegram_aliases
from sender.models import IncomingMessage
from sender.permissions import is_staff
from sender.web.consumers import LiveConsumer
from sender.web.telegram.chat import incoming_entry
from sender.web.telegram.live import chat_group


class ChatConsumer(LiveConsumer):
    poll_seconds = 2.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        kwargs = self.scope["url_route"]["kwargs"]
        target = await self._recipient(user, kwargs["label"], kwargs["pk"]) if user and is_staff(user) else None
        if target is None:
            await self.close(code=4403)
            return
        self.content_type_id, self.object_id, self.last_id = target
        self.seen: set[int] = set()
        await self.join(chat_group(self.content_type_id, self.object_id))

    async def chat_message(self, event: dict) -> None:
        await self._send_once(event["id"], event["html"])

    async def _send_once(self, message_id: int, html: str) -> None:
        if message_id in self.seen:
            return
        self.seen.add(message_id)
        self.last_id = max(self.last_id, message_id)
        await self.send_json({"id": message_id, "html": html})

    async def poll(self) -> bool:
        for message_id, html in await self._newer():
            await self._send_once(message_id, html)
        return True

    @database_sync_to_async
    def _recipient(self, user, label: str, pk: str) -> tuple[int, str, int] | None:
        """(content type id, object id, newest incoming id) of a recipient this staff user may see."""
        obj = find_visible(label, pk, user)
        if obj is None:
            return None
        ct = ContentType.objects.get_for_model(obj)
        newest = (IncomingMessage.objects.filter(content_type=ct, object_id=str(obj.pk))
                  .order_by("-id").values_list("id", flat=True).first())
        return ct.pk, str(obj.pk), newest or 0

    @database_sync_to_async
    def _newer(self) -> list[tuple[int, str]]:
        rows = IncomingMessage.objects.filter(content_type_id=self.content_type_id, object_id=self.object_id,
                                              method__in=telegram_aliases(), id__gt=self.last_id).order_by("id")[:50]
        return [(m.pk, render_to_string("telegram/_entry.html", {"entry": incoming_entry(m)})) for m in rows]
