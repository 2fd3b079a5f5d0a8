"""A real SMTP server on loopback (aiosmtpd), recording what arrives."""

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from django.conf import settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}  # address -> reply, e.g. "550 5.1.1 No such user"
        self.lock = threading.Lock()
        self.connections = 0
        self.times: list[float] = []  # time.monotonic() of each MAIL FROM, where a relay counts a message
        # Offered as Postfix and most relays do (RFC 2920): commands may arrive before the
        # replies to earlier ones. aiosmtpd reads them in order either way; it just does not say so.
        self.pipelining = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname  # aiosmtpd leaves this to a handler that takes EHLO
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            self.times.append(time.monotonic())
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self):
        self.port = free_port()
        self.handler = Recorder()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def recipients(self) -> list[str]:
        return [rcpt for _from, rcpts in self.handler.envelopes for rcpt in rcpts]

    def sender_settings(self, **overrides) -> dict:
        config = {**settings.SENDER, **overrides}
        methods = dict(config["METHODS"])
        methods["email"] = {
            **methods["email"],
            "OPTIONS": {**methods["email"]["OPTIONS"], "host": "127.0.0.1", "port": self.port},
        }
        config["METHODS"] = methods
        return config
