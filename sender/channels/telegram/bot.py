"""The registration bot: python-telegram-bot handlers over the linking rules in links.py.

    /start [token]   asks for the person's own phone number with a contact button
                     (a deep-link token narrows the match to the recipient it was made for)
    contact          accepted only if it is the sender's own (contact.user_id == from_user.id,
                     private chat, not forwarded); then linked, already linked or no match
    /stop            unlinks the chat
    /help            what the bot does, the commands, and whether this chat is linked
    /cancel          abandons a registration under way (the deep-link token, the contact button)
    text             from a linked chat: stored for staff (incoming.py)
    blocked the bot  the chat is marked inactive

The same Application serves the webhook view and the polling command; its chat_data (the
pending deep-link token) lives in the database through DjangoPersistence.
"""

import logging

from asgiref.sync import sync_to_async
from django.db import connections
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    Application,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sender.channels import methods
from sender.channels.telegram import incoming, links
from sender.channels.telegram.gateway import rate_limiter
from sender.channels.telegram.method import TelegramMethod
from sender.channels.telegram.persistence import DjangoPersistence

logger = logging.getLogger(__name__)
Result = links.Result


def telegram_method() -> TelegramMethod | None:
    """The configured Telegram send method (the first, if several), or None."""
    for alias in methods:
        method = methods[alias]
        if isinstance(method, TelegramMethod):
            return method
    return None


def build_application(method: TelegramMethod, polling: bool = False) -> Application:
    """An Application for one event loop: the method's token and API, persistence in the
    database, PTB's rate limiter. Without `polling` there is no Updater: updates are fed in."""
    o = method.options
    builder = (Application.builder().token(o["token"]).base_url(o["base_url"]).base_file_url(o["base_file_url"])
               .persistence(DjangoPersistence(update_interval=5))
               .rate_limiter(rate_limiter(o)))
    builder = builder.post_shutdown(close_database) if polling else builder.updater(None)
    application = builder.build()
    application.bot_data.setdefault("alias", method.alias)
    add_handlers(application, method.alias)
    return application


async def close_database(application: Application | None = None) -> None:
    """End the database sessions of the thread the handlers' queries ran on (asgiref's one
    sync thread, which outlives the bot): a stopped bot must not hold sessions open."""
    await sync_to_async(connections.close_all)()


def add_handlers(application: Application, alias: str) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("stop", stop))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("cancel", cancel))
    application.add_handler(MessageHandler(filters.CONTACT, contact))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, text))
    application.add_handler(ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.bot_data["alias"] = alias


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(_("Share my phone number"), request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if update.effective_chat.type != ChatType.PRIVATE:
        await message.reply_text(_("Please write to me in a private chat to link your number."))
        return
    token = context.args[0] if context.args else ""
    if token:
        if await sync_to_async(links.deep_link_target)(token):
            context.chat_data["deep_link"] = token
        else:
            context.chat_data.pop("deep_link", None)
            await message.reply_text(_("This link has expired or was already used. You can still link your "
                                       "number below."))
    await message.reply_text(
        _("Hello! To receive our messages here, share your phone number with the button below. "
          "Only your own number is accepted."),
        reply_markup=contact_keyboard(),
    )


def register(chat_id: int, raw_phone: str, token: str = "") -> links.LinkOutcome:
    """Link the chat to the recipients with this phone (only the deep link's one, if given)."""
    phone = links.contact_phone(raw_phone)
    if phone is None:
        return links.LinkOutcome(Result.BAD_NUMBER)
    only = links.deep_link_target(token) if token else None
    outcome = links.link(chat_id, phone, links.find_recipients(phone, only))
    if outcome.result == Result.LINKED and only:
        links.use_deep_link(token, chat_id)
    return outcome


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    shared = message.contact
    own = (update.effective_chat.type == ChatType.PRIVATE and message.forward_origin is None
           and shared.user_id is not None and update.effective_user is not None
           and shared.user_id == update.effective_user.id)
    if not own:
        await message.reply_text(_("That is not your own contact. Please use the button to share your own "
                                   "phone number."), reply_markup=contact_keyboard())
        return
    token = context.chat_data.get("deep_link", "")
    outcome = await sync_to_async(register)(update.effective_chat.id, shared.phone_number, token)
    names = ", ".join([str(r.get_representation()) for r in outcome.recipients])
    if outcome.result == Result.LINKED:
        context.chat_data.pop("deep_link", None)
        reply = ngettext("Done: you will receive messages for %(names)s here. Send /stop to unlink.",
                         "Done: you will receive messages for %(names)s here. Send /stop to unlink.",
                         len(outcome.recipients)) % {"names": names}
    elif outcome.result == Result.ALREADY:
        context.chat_data.pop("deep_link", None)
        reply = _("You are already linked as %(names)s. Send /stop to unlink.") % {"names": names}
    elif outcome.result == Result.BAD_NUMBER:
        reply = _("I could not read that phone number.")
    else:
        reply = _("Sorry, we have no record with your phone number. Please ask us to add it, then try "
                  "again with /start.")
    await message.reply_text(reply, reply_markup=ReplyKeyboardRemove())


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat_id = update.effective_chat.id
    count = await sync_to_async(links.stop)(chat_id, _("Unlinked by the person with /stop."))
    context.chat_data.pop("deep_link", None)
    if count:
        reply = _("You are unlinked and will not receive our messages here any more. Send /start to link again.")
    else:
        reply = _("This chat is not linked to anyone. Send /start to link your number.")
    await update.effective_message.reply_text(reply, reply_markup=ReplyKeyboardRemove())


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if update.effective_chat.type != ChatType.PRIVATE:
        return
    stored = await sync_to_async(incoming.store)(
        context.bot_data.get("alias", "telegram"), update.effective_chat.id, message.message_id, message.text,
        message.date, context.bot.username,
    )
    if stored is None and not await sync_to_async(links.linked)(update.effective_chat.id):
        await message.reply_text(_("I do not know you yet. Send /start to link your phone number."))


async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    if change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        await sync_to_async(links.deactivate)({str(change.chat.id): "Forbidden: bot was blocked by the user"})


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await sync_to_async(links.linked)(update.effective_chat.id)
    state = (_("This chat is linked: you receive our messages here.") if linked
             else _("This chat is not linked yet."))
    await update.effective_message.reply_text("\n".join([
        _("I deliver our messages to you here. Commands:"),
        _("/start – link this chat to your phone number"),
        _("/stop – unlink this chat; you will receive nothing more here"),
        _("/cancel – abandon linking your number"),
        _("/help – this message"),
        state,
    ]))


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Abandon a registration under way: forget the deep-link token and take the contact button away."""
    pending = context.chat_data.pop("deep_link", None)
    reply = (_("Cancelled: your number was not linked. Send /start to try again.") if pending
             else _("Nothing to cancel. Send /start to link your number, /help for the commands."))
    await update.effective_message.reply_text(reply, reply_markup=ReplyKeyboardRemove())
