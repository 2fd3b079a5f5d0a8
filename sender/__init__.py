"""Sender: broadcasts to recipients across models over email, SMS, Telegram and storage."""
