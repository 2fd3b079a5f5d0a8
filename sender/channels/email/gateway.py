"""SMTP client for bulk sending: one connection per batch, pre-encoded messages.

The message body (MIME, attachments included) is encoded and dot-stuffed once per
broadcast; per recipient only a few header lines are prepended. When the server offers
PIPELINING, MAIL, RCPT and DATA go out in one write, so a message costs two round trips.
"""

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from sender.exceptions import DeliveryError
from sender.statuses import RETRY, RecipientStatus

_LEADING_DOT = re.compile(rb"(?m)^\.")


def dot_stuff(data: bytes) -> bytes:
    """Prepare a CRLF message for the DATA phase (RFC 5321 §4.5.2) and terminate it."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LEADING_DOT.sub(b"..", data) + b".\r\n"


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def status(self) -> str:
        """What the reply means for the row: accepted, try again later (4xx), or refused for good (5xx)."""
        return RecipientStatus.SENT if self.ok else RETRY if self.transient else RecipientStatus.FAILED

    @property
    def closing(self) -> bool:
        """421: the server is closing the connection; nothing more goes over it."""
        return self.code == 421

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class ConnectionLost(DeliveryError):
    """The connection broke. `maybe_sent` is True when the message body had been written
    but its reply never came: the server may or may not have accepted it."""

    def __init__(self, message: str, maybe_sent: bool):
        super().__init__(message)
        self.maybe_sent = maybe_sent


class SMTPGateway:
    def __init__(self, host: str, port: int, username: str = "", password: str = "", use_tls: bool = False,
                 use_ssl: bool = False, timeout: float = 30, local_hostname: str | None = None,
                 throttle: Callable[[], None] | None = None):
        self.host, self.port = host, port
        self.throttle = throttle  # blocks until the relay's shared rate lets one more message go
        self.username, self.password = username, password
        self.use_tls, self.use_ssl = use_tls, use_ssl
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.smtp: smtplib.SMTP | None = None
        self.pipelining = False

    def __enter__(self) -> "SMTPGateway":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        where = f"{self.host}:{self.port}"
        try:
            cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            self.smtp = cls(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
            self.smtp.ehlo()
            if self.use_tls:
                self.smtp.starttls(context=ssl.create_default_context())
                self.smtp.ehlo()
            if self.username:
                self.smtp.login(self.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(_("SMTP server %(where)s refused the credentials: %(reply)s") % {"where": where, "reply": _reply(exc)},
                                permanent=True, scope=DeliveryError.METHOD) from exc
        except smtplib.SMTPResponseException as exc:
            reply = Reply(exc.smtp_code, _text(exc.smtp_error))
            raise DeliveryError(_("SMTP server %(where)s refused the connection: %(reply)s") % {"where": where, "reply": reply}, permanent=not reply.transient) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(_("Cannot connect to SMTP server %(where)s: %(error)s") % {"where": where, "error": exc}) from exc
        self.pipelining = self.smtp.has_extn("pipelining")

    def close(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()
        self.smtp = None

    def send(self, sender: str, recipient: str, stuffed: bytes) -> Reply:
        """Send one dot-stuffed message; return the server's final reply for it.

        A refusal comes back as a Reply (4xx transient, 5xx permanent); a broken
        connection raises ConnectionLost.
        """
        if self.throttle is not None:
            self.throttle()
        smtp = self.smtp
        envelope = [f"MAIL FROM:<{sender}>\r\n".encode(), f"RCPT TO:<{recipient}>\r\n".encode(), b"DATA\r\n"]
        try:
            if self.pipelining:
                smtp.sock.sendall(b"".join(envelope))
                replies = [self._reply() for _ in envelope]
            else:
                replies = []
                for command in envelope:
                    smtp.sock.sendall(command)
                    replies.append(self._reply())
                    if not replies[-1].ok:
                        break
            failed = next((r for r in replies if not r.ok), None)
            if failed is not None:
                if not failed.closing:
                    self._reset()
                return failed
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {"where": f"{self.host}:{self.port}", "error": exc}, maybe_sent=False) from exc
        try:
            smtp.sock.sendall(stuffed)
            return self._reply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {"where": f"{self.host}:{self.port}", "error": exc}, maybe_sent=True) from exc

    def _reply(self) -> Reply:
        code, text = self.smtp.getreply()
        if code == -1:
            raise smtplib.SMTPServerDisconnected("connection closed")
        return Reply(code, _text(text))

    def _reset(self) -> None:
        self.smtp.sock.sendall(b"RSET\r\n")
        self._reply()


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).replace("\n", " ").strip()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return str(Reply(exc.smtp_code, _text(exc.smtp_error)))


__all__ = ["ConnectionLost", "Reply", "SMTPGateway", "dot_stuff"]
