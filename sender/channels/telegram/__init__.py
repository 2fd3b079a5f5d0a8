"""Telegram: the Bot API gateway, the registration bot, link state per chat, the webhook,
the staff chat view.

The send method itself is sender/methods/telegram.py; this app holds the gateway it sends
through (gateway.py: the Bot API client, the rate limiter, the sending loop), what it needs in
the database (links, deep-link tokens, files, progress, the bot's persisted state) and
everything that listens.
"""
