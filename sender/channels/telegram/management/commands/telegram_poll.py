"""Run the registration bot by long polling (development, or where no webhook can reach us)."""

import asyncio

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from telegram import Update
from telegram.error import TelegramError

from sender.channels.telegram.bot import build_application, close_database, telegram_method


class Command(BaseCommand):
    help = "Run the Telegram bot by long polling (deletes the webhook first). Ctrl-C stops it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true",
                            help="Handle the updates waiting now, then exit (for scripts and tests).")

    def handle(self, *args, once: bool, **options) -> None:
        method = telegram_method()
        if method is None:
            raise CommandError(_('No Telegram send method is configured in SENDER["METHODS"].'))
        application = build_application(method, polling=True)
        if once:
            try:
                handled = asyncio.run(self._once(application))
            except TelegramError as exc:
                raise CommandError(_("Telegram said: %(error)s") % {"error": exc.message}) from exc
            self.stdout.write(_("Handled %(n)d updates.") % {"n": handled})
            return
        self.stdout.write(_("Polling Telegram as the bot of send method '%(alias)s'. Ctrl-C stops.")
                          % {"alias": method.alias})
        application.run_polling(allowed_updates=Update.ALL_TYPES)

    async def _once(self, application) -> int:
        try:
            async with application:
                await application.bot.delete_webhook()
                updates = await application.bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES)
                for update in updates:
                    await application.process_update(update)
                if updates:  # confirm them, so they are not handled again
                    await application.bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
                await application.update_persistence()
                return len(updates)
        finally:
            await close_database()  # run_polling does it in post_shutdown
