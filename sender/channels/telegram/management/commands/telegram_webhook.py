"""Tell Telegram where to POST updates (with the secret header), or stop it."""

import asyncio

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from telegram import Update
from telegram.error import TelegramError

from sender.channels.telegram.bot import telegram_method


class Command(BaseCommand):
    help = "Set, delete or show the Telegram webhook of the configured bot."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["set", "delete", "info"])
        parser.add_argument("url", nargs="?", help="Public URL of /telegram/webhook/ (for set).")
        parser.add_argument("--drop-pending", action="store_true", help="Forget updates Telegram holds.")

    def handle(self, *args, action: str, url: str | None, drop_pending: bool, **options) -> None:
        method = telegram_method()
        if method is None:
            raise CommandError(_('No Telegram send method is configured in SENDER["METHODS"].'))
        if action == "set" and not url:
            raise CommandError(_("Give the webhook URL, e.g. https://example.com/telegram/webhook/"))
        if action == "set" and not method.options["webhook_secret"]:
            raise CommandError(_("Set SENDER_TELEGRAM_WEBHOOK_SECRET first: the webhook refuses updates without it."))
        try:
            self.stdout.write(asyncio.run(self._run(method, action, url, drop_pending)))
        except TelegramError as exc:
            raise CommandError(_("Telegram said: %(error)s") % {"error": exc.message}) from exc

    async def _run(self, method, action: str, url: str | None, drop_pending: bool) -> str:
        async with method.bot(rate_limited=False) as bot:
            if action == "set":
                await bot.set_webhook(url, secret_token=method.options["webhook_secret"],
                                      allowed_updates=Update.ALL_TYPES, drop_pending_updates=drop_pending)
                return _("Webhook set to %(url)s.") % {"url": url}
            if action == "delete":
                await bot.delete_webhook(drop_pending_updates=drop_pending)
                return _("Webhook deleted; use telegram_poll to receive updates.")
            info = await bot.get_webhook_info()
            return _("Webhook: %(url)s; pending updates: %(n)d; last error: %(error)s") % {
                "url": info.url or _("none"), "n": info.pending_update_count, "error": info.last_error_message or "—"}
