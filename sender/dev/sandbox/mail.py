"""A loopback SMTP server that keeps every message it receives in a Maildir."""

import mailbox
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path: Path):
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.maildir.add(envelope.original_content or envelope.content)
        return "250 Message accepted"


def start(host: str, port: int, path: Path) -> Controller:
    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    return controller
