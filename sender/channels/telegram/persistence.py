"""python-telegram-bot's persistence, kept in the database (BotState rows) instead of a
pickle file, so the webhook under daphne and the polling command share it.

Only JSON-able data is stored (the bot keeps small dicts: a pending deep-link token per
chat). Keys of conversations are tuples, stored as JSON lists and turned back on load.
Reads happen at `initialize()` and, through `refresh_*`, before each handler, so several
processes see each other's writes; writes come from PTB's `update_persistence()`.
"""

import json
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from sender.channels.telegram.models import BotState

Kind = BotState.Kind


class DjangoPersistence(BasePersistence[dict, dict, dict]):
    def __init__(self, update_interval: float = 60):
        super().__init__(store_data=PersistenceInput(bot_data=True, chat_data=True, user_data=True,
                                                     callback_data=False), update_interval=update_interval)

    # -- reading ---------------------------------------------------------------------------

    async def _all(self, kind: str) -> dict[int, dict]:
        return {int(row.key): row.data async for row in BotState.objects.filter(kind=kind)}

    async def _one(self, kind: str, key: str) -> dict | None:
        row = await BotState.objects.filter(kind=kind, key=key).afirst()
        return row.data if row else None

    async def get_user_data(self) -> dict[int, dict]:
        return await self._all(Kind.USER)

    async def get_chat_data(self) -> dict[int, dict]:
        return await self._all(Kind.CHAT)

    async def get_bot_data(self) -> dict:
        return await self._one(Kind.BOT, "bot") or {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict[tuple, Any]:
        data = await self._one(Kind.CONVERSATION, name) or {}
        return {tuple(json.loads(key)): state for key, state in data.items()}

    # -- writing ---------------------------------------------------------------------------

    async def _save(self, kind: str, key: str, data: Any) -> None:
        await BotState.objects.aupdate_or_create(kind=kind, key=key, defaults={"data": data})

    async def update_user_data(self, user_id: int, data: dict) -> None:
        await self._save(Kind.USER, str(user_id), data)

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        await self._save(Kind.CHAT, str(chat_id), data)

    async def update_bot_data(self, data: dict) -> None:
        await self._save(Kind.BOT, "bot", data)

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        current = await self._one(Kind.CONVERSATION, name) or {}
        encoded = json.dumps(list(key))
        if new_state is None:
            current.pop(encoded, None)
        else:
            current[encoded] = new_state
        await self._save(Kind.CONVERSATION, name, current)

    async def drop_chat_data(self, chat_id: int) -> None:
        await BotState.objects.filter(kind=Kind.CHAT, key=str(chat_id)).adelete()

    async def drop_user_data(self, user_id: int) -> None:
        await BotState.objects.filter(kind=Kind.USER, key=str(user_id)).adelete()

    # -- refreshing: another process may have written since we loaded ----------------------

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        await self._refresh(Kind.USER, str(user_id), user_data)

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        await self._refresh(Kind.CHAT, str(chat_id), chat_data)

    async def refresh_bot_data(self, bot_data: dict) -> None:
        await self._refresh(Kind.BOT, "bot", bot_data)

    async def _refresh(self, kind: str, key: str, target: dict) -> None:
        stored = await self._one(kind, key)
        if stored is not None:
            target.clear()
            target.update(stored)

    async def flush(self) -> None:
        pass
