"""`make run`: the Telegram Bot API sandbox on loopback, already delivering to our webhook."""

from urllib.parse import urlsplit

from sender.channels.telegram.bot import telegram_method
from sender.dev.sandbox import telegram as sandbox


def start_sandbox(webhook_url: str) -> sandbox.TelegramSandbox | None:
    """Start the sandbox when the Telegram method points at a loopback address (raises
    OSError when the port is taken). Its webhook is set to `webhook_url` with our secret,
    so what a person does on its /_sandbox/ page reaches the bot at once."""
    method = telegram_method()
    if method is None:
        return None
    api = urlsplit(method.options["base_url"])
    if api.hostname not in {"127.0.0.1", "localhost"}:
        return None
    server = sandbox.start(api.hostname, api.port or 80, token=method.options["token"],
                           rate=float(method.options["rate"]), chat_interval=float(method.options["chat_interval"]))
    server.state.webhook.update(url=webhook_url, secret=method.options["webhook_secret"])
    return server
