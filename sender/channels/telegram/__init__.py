"""Telegram: the registration bot, link state per chat, the webhook, the staff chat view.

The send method itself is sender/methods/telegram.py; this app holds what it needs in the
database (links, deep-link tokens, the bot's persisted state) and everything that listens.
"""
