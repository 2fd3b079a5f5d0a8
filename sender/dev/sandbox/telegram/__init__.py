"""A loopback stand-in for the Telegram Bot API, with state, limits and faults.

It speaks the real shape (../shared/reference/telegram.md): `POST /bot<token>/<method>`
with query, form, multipart or JSON parameters; `{"ok": true, "result": ...}` or
`{"ok": false, "error_code", "description", "parameters"}` with the HTTP status equal to
the error code. Methods: getMe, sendMessage, sendPhoto, sendDocument, getFile,
setWebhook, deleteWebhook, getWebhookInfo, getUpdates; file bytes at
`/file/bot<token>/<path>`. Malformed token → 404, unknown token → 401.

It refuses what Telegram refuses, in Telegram's words:

- limits, counted when a send is accepted: more than `rate` a second overall, a second
  message to one chat within `chat_interval`, more than `group_rate` a `group_period` to
  one group or channel → 429 with `parameters.retry_after`; `faults` adds 429 storms
  (from the n-th accepted message on, too) and slow answers;
- chats: blocked, deactivated, never started (403), unknown (400 "chat not found");
  groups and channels (`add_group`, "@username" addresses); a group upgraded to a
  supergroup (`migrate_group`) answers 400 with `parameters.migrate_to_chat_id`;
- files (media.py): photos outside width + height ≤ 10,000 and ratio ≤ 20 →
  "PHOTO_INVALID_DIMENSIONS"; a document that is audio, video or a GIF comes back as
  `audio`, `video` or `animation` unless `disable_content_type_detection`;
- getUpdates: 409 while a webhook is set, and 409 for a poll still waiting when another
  starts; setWebhook at most once a second (429).

Updates pushed with `push()` (or the helpers for `/start`, contacts and text) wait for
getUpdates, or are POSTed to the webhook as Telegram does (webhook.py: a queue per chat, up
to `max_connections` at once, back-off, then dropped) with the
`X-Telegram-Bot-Api-Secret-Token` header when one is set.

Tests drive it through this Python API; other processes (and a person trying the bot
with `make run`) through `GET /_sandbox/` (a small page) and `POST /_sandbox/` (JSON).
"""

from sender.dev.sandbox.telegram.errors import ApiError
from sender.dev.sandbox.telegram.server import TelegramSandbox, parse_params, start
from sender.dev.sandbox.telegram.state import DEFAULT_TOKEN, Faults, TelegramState

__all__ = ["DEFAULT_TOKEN", "ApiError", "Faults", "TelegramSandbox", "TelegramState", "parse_params", "start"]
