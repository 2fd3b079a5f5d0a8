"""SMTP client for bulk sending: one connection per batch, pre-encoded messages.

The message body (MIME, attachments included) is encoded and dot-stuffed once per
broadcast; per recipient only a few header lines are prepended. When the server offers
PIPELINING, MAIL, RCPT and DATA go out in one write, and with them the previous message's
body: a message costs one round trip instead of two (RFC 2920 lets DATA end a group; its
354 comes only after the previous message's reply, so one message at a time is ever
unanswered on the connection, as the crash journal assumes).
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
        self._ahead: tuple[str, str, list[Reply] | ConnectionLost] | None = None
        """(sender, recipient, replies or the loss) of the envelope sent with the last body."""

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
        ahead, self._ahead = self._ahead, None
        if ahead is not None and not isinstance(ahead[2], ConnectionLost) and all(r.ok for r in ahead[2]):
            # The server waits for the body of an envelope sent ahead: QUIT would be read as
            # its text. Dropping the connection makes the server discard the message unsent.
            self.smtp.close()
            self.smtp = None
            return
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()
        self.smtp = None

    def send(self, sender: str, recipient: str, stuffed: bytes, following: str | None = None) -> Reply:
        """Send one dot-stuffed message; return the server's final reply for it.

        `following`: the recipient of the next message on this connection, whose envelope
        goes out with this body when the server offers PIPELINING (and no relay rate is
        counted here); the next call, for that recipient, then waits for no envelope reply.

        A refusal comes back as a Reply (4xx transient, 5xx permanent); a broken
        connection raises ConnectionLost.
        """
        where = f"{self.host}:{self.port}"
        smtp = self.smtp
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[:2] == (sender, recipient):
            if isinstance(ahead[2], ConnectionLost):
                raise ahead[2]
            replies = ahead[2]
        else:
            if ahead is not None:  # a caller that changed its mind: the server waits for a body
                smtp.close()  # dropped, so the message announced is discarded unsent
                self.smtp = None
                raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {
                    "where": where, "error": _("the next message was not the one announced")}, maybe_sent=False)
            if self.throttle is not None:
                self.throttle()
            envelope = _envelope(sender, recipient)
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
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {"where": where, "error": exc},
                                     maybe_sent=False) from exc
        failed = next((r for r in replies if not r.ok), None)
        if failed is not None:
            if not failed.closing:
                try:
                    self._reset()
                except (OSError, smtplib.SMTPServerDisconnected) as exc:
                    raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {"where": where, "error": exc},
                                         maybe_sent=False) from exc
            return failed
        following = following if self.pipelining and self.throttle is None else None
        try:
            smtp.sock.sendall(stuffed + b"".join(_envelope(sender, following)) if following else stuffed)
            reply = self._reply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise ConnectionLost(_("Connection to %(where)s lost: %(error)s") % {"where": where, "error": exc},
                                 maybe_sent=True) from exc
        if following and not reply.closing:
            try:
                self._ahead = (sender, following, [self._reply() for _ in range(3)])
            except (OSError, smtplib.SMTPServerDisconnected) as exc:  # this message went; the next did not
                self._ahead = (sender, following, ConnectionLost(
                    _("Connection to %(where)s lost: %(error)s") % {"where": where, "error": exc}, maybe_sent=False))
        return reply

    def _reply(self) -> Reply:
        code, text = self.smtp.getreply()
        if code == -1:
            raise smtplib.SMTPServerDisconnected("connection closed")
        return Reply(code, _text(text))

    def _reset(self) -> None:
        self.smtp.sock.sendall(b"RSET\r\n")
        self._reply()


def _envelope(sender: str, recipient: str) -> list[bytes]:
    return [f"MAIL FROM:<{sender}>\r\n".encode(), f"RCPT TO:<{recipient}>\r\n".encode(), b"DATA\r\n"]


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).replace("\n", " ").strip()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return str(Reply(exc.smtp_code, _text(exc.smtp_error)))


__all__ = ["ConnectionLost", "Reply", "SMTPGateway", "dot_stuff"]
