"""With PIPELINING (RFC 2920, offered by Postfix and most relays), each message's body goes
out in one write with the next message's envelope: a message costs one round trip, not two.
The next body still waits for the previous message's reply, so one message at a time is
unanswered on the connection, and stopping between two messages sends nothing more."""

import socket
import threading

import pytest

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.channels.email.gateway import ConnectionLost, SMTPGateway, dot_stuff
from sender.models import MessageSent
from sender.pipeline.commit import commit
from tests.factories import customers

BODY = dot_stuff(b"Subject: Hi\r\n\r\nHello\r\n")


class CountingSocket:
    """The gateway's socket, counting the writes (each one is followed by waiting for replies)."""

    def __init__(self, sock: socket.socket, writes: list[bytes]):
        self._sock, self.writes = sock, writes

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.fixture
def writes(monkeypatch) -> list[bytes]:
    """Every write the email method makes on its SMTP connections, after the greeting."""
    found: list[bytes] = []
    opened = SMTPGateway.open

    def open_counting(self):
        opened(self)
        self.smtp.sock = CountingSocket(self.smtp.sock, found)

    monkeypatch.setattr(SMTPGateway, "open", open_counting)
    return found


def send_five(user) -> MessageSent:
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["email"],
                  Draft(body="Hello", subject="Hi"), "five").sents.get()


@pytest.mark.parametrize("pipelining", [True, False])
def test_every_message_arrives_once_in_one_write_each_when_the_server_pipelines(
        sender_user, smtp_server, run_worker, writes, pipelining):
    smtp_server.handler.pipelining = pipelining
    people = customers(5)
    sent = send_five(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert (sent.status, sent.sent_count) == (MessageSent.Status.DONE, 5)
    assert sorted(smtp_server.recipients()) == sorted(p.email for p in people)
    messages = [w for w in writes if w.upper() != b"QUIT\r\n"]
    # Pipelining: the first envelope, then each body with the next envelope (the last alone).
    # Without: MAIL, RCPT, DATA and the body, each waiting for its reply.
    assert len(messages) == (1 + 5 if pipelining else 4 * 5)
    if pipelining:
        assert all(w.count(b"MAIL FROM:") == 1 for w in messages[:-1]) and b"MAIL FROM:" not in messages[-1]


def test_a_refused_recipient_announced_ahead_fails_alone(sender_user, smtp_server, run_worker):
    people = customers(3)
    smtp_server.handler.refuse[people[1].email] = "550 5.1.1 No such user here"
    sent = send_five(sender_user)

    run_worker()

    sent.refresh_from_db()
    assert (sent.sent_count, sent.failed_count, sent.status) == (2, 1, MessageSent.Status.DONE)
    assert sorted(smtp_server.recipients()) == sorted([people[0].email, people[2].email])


def test_stopping_after_an_envelope_sent_ahead_sends_nothing_for_it(smtp_server, writes):
    gateway = SMTPGateway("127.0.0.1", smtp_server.port, timeout=5)
    with gateway:
        assert gateway.send("me@example.com", "first@example.com", BODY, following="second@example.com").ok
    # The server was waiting for the second body: the connection is dropped, not ended with QUIT
    # (which it would have read as that body's text), and the message is discarded.
    assert len(writes) == 2 and writes[-1].endswith(b"RCPT TO:<second@example.com>\r\nDATA\r\n")
    with SMTPGateway("127.0.0.1", smtp_server.port, timeout=5) as again:
        assert again.send("me@example.com", "third@example.com", BODY).ok
    assert smtp_server.recipients() == ["first@example.com", "third@example.com"]


def test_a_message_other_than_the_one_announced_is_refused_without_sending_either(smtp_server):
    with SMTPGateway("127.0.0.1", smtp_server.port, timeout=5) as gateway:
        gateway.send("me@example.com", "first@example.com", BODY, following="second@example.com")
        with pytest.raises(ConnectionLost) as lost:
            gateway.send("me@example.com", "other@example.com", BODY)
    assert lost.value.maybe_sent is False
    assert smtp_server.recipients() == ["first@example.com"]


def test_a_connection_lost_after_a_reply_fails_only_the_next_message():
    """The server accepts the first message, then hangs up before answering the envelope sent
    ahead: the first went out, the second did not (it is sent again, not marked)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 hello\r\n")
            lines.readline()  # EHLO
            conn.sendall(b"250-hello\r\n250 PIPELINING\r\n")
            for _command in range(3):  # MAIL, RCPT, DATA
                lines.readline()
            conn.sendall(b"250 ok\r\n250 ok\r\n354 go on\r\n")
            while lines.readline() != b".\r\n":
                pass
            conn.sendall(b"250 accepted\r\n")
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with SMTPGateway("127.0.0.1", port, timeout=5) as gateway:
        assert gateway.send("me@example.com", "first@example.com", BODY, following="second@example.com").ok
        with pytest.raises(ConnectionLost) as lost:
            gateway.send("me@example.com", "second@example.com", BODY)
    thread.join(5)
    assert lost.value.maybe_sent is False
