"""What every channel promises, checked once for every configured send method.

Each method kind has a world: its real counterpart on loopback (an SMTP server, the Skebby
and Telegram sandboxes) and the ways to make it refuse one recipient for good, or to be
unreachable for a while. A configured method whose kind has no world fails the suite, so a
new channel comes with its world.
"""

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.test import override_settings

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.channels.base import OUTCOMES, RETRY
from sender.exceptions import DeliveryError, InvalidAddress
from sender.models import MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.deliver import deliver_batch
from sender.statuses import RecipientStatus as Status
from tests.sms.conftest import sms_settings
from tests.smtp import SMTPServer
from tests.telegram.conftest import method_settings as telegram_settings

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})
ALIASES = sorted(settings.SENDER["METHODS"])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@dataclass
class World:
    """A method pointed at its counterpart, and what a test may do to that counterpart."""

    alias: str
    good: str | None  # an address the method accepts (None: the recipient is the address)
    bad: str | None  # an address normalize refuses
    refuse_one: object = None  # callable(address): the counterpart refuses that recipient for good
    unreachable: dict = field(default_factory=dict)  # SENDER that points the method at nothing

    @property
    def method(self):
        return methods[self.alias]


def replace_options(alias: str, **options) -> dict:
    config = dict(settings.SENDER)
    params = dict(config["METHODS"][alias])
    params["OPTIONS"] = {**params.get("OPTIONS", {}), **options}
    return {**config, "METHODS": {**config["METHODS"], alias: params}}


def email_world(alias: str) -> Iterator[World]:
    server = SMTPServer()
    server.start()
    try:
        with override_settings(SENDER=replace_options(alias, host="127.0.0.1", port=server.port)):
            yield World(alias, "c0@example.com", "not an address",
                        refuse_one=lambda address: server.handler.refuse.__setitem__(address, "550 5.1.1 No such user"),
                        unreachable=replace_options(alias, host="127.0.0.1", port=closed_port()))
    finally:
        server.stop()


def sms_world(alias: str) -> Iterator[World]:
    from sender.dev.sandbox.skebby import SkebbySandbox, SkebbyState

    server = SkebbySandbox(state=SkebbyState(step=60.0)).start()
    try:
        with override_settings(SENDER=sms_settings(settings, server.url)):
            yield World(alias, "+393471200000", "12", refuse_one=None,
                        unreachable=sms_settings(settings, f"http://127.0.0.1:{closed_port()}/API/v1.0/REST/"))
    finally:
        server.stop()


def telegram_world(alias: str) -> Iterator[World]:
    from sender.dev.sandbox import telegram as sandbox

    server = sandbox.start(rate=200, chat_interval=0.2)
    server.state.auto_deliver = False
    config = {**settings.SENDER, "METHODS": {**settings.SENDER["METHODS"], alias: telegram_settings(server)}}
    down = {**config, "METHODS": {**config["METHODS"], alias: telegram_settings(
        server, base_url=f"http://127.0.0.1:{closed_port()}/bot", max_retries=0)}}
    try:
        with override_settings(SENDER=config):
            yield World(alias, "7000000", "not a chat", refuse_one=lambda chat: server.state.block(int(chat)),
                        unreachable=down)
    finally:
        server.stop()


def storage_world(alias: str) -> Iterator[World]:
    yield World(alias, None, None)


WORLDS = {"email": email_world, "sms": sms_world, "telegram": telegram_world, "storage": storage_world}


@pytest.fixture(params=ALIASES)
def world(request, transactional_db) -> Iterator[World]:  # the Telegram limiter writes from its own thread
    kind = methods[request.param].kind
    assert kind in WORLDS, f"the method '{request.param}' ({kind or 'no kind'}) needs a world in this suite"
    yield from WORLDS[kind](request.param)


def rows_for(world: World, user, addresses: list[str]) -> tuple[MessageSent, list[MessageRecipient]]:
    """A committed broadcast over the method to customers with these addresses, and its rows."""
    field_name = {"email": "email", "sms": "phone", "telegram": "telegram_chat_id"}.get(world.method.kind)
    Customer.objects.bulk_create(Customer(first_name=f"C{i}", last_name="Contract", **(
        {field_name: address} if field_name else {})) for i, address in enumerate(addresses))
    broadcast = commit(EVERYONE, user, [world.alias], Draft(body="Contract check", subject="Contract"),
                       f"contract-{world.alias}")
    sent = broadcast.sents.get()
    return sent, list(MessageRecipient.objects.filter(message_sent=sent, status=Status.PENDING).order_by("id"))


def addresses(world: World, n: int) -> list[str]:
    if world.good is None:
        return [""] * n
    if world.method.kind == "email":
        return [f"c{i}@example.com" for i in range(n)]
    if world.method.kind == "sms":
        return [f"+3934712{i:05d}" for i in range(n)]
    return [str(7_000_000 + i) for i in range(n)]


def test_normalize_is_stable_and_refuses_what_it_cannot_read(world):
    if world.good is None:
        pytest.skip("the recipient itself is the address: nothing to normalize")
    once = world.method.normalize(world.good)
    assert world.method.normalize(once) == once
    with pytest.raises(InvalidAddress) as refused:
        world.method.normalize(world.bad)
    assert str(refused.value)  # a reason a person can read, stored on the row


def test_presend_names_each_problem_in_a_sentence(world):
    assert world.method.presend(Draft(body="Fine", subject="Fine")) == []
    problems = world.method.presend(Draft(body="  ", subject="Fine"))
    assert problems and all(isinstance(str(p), str) and str(p).endswith(".") for p in problems)
    assert world.method.presend(Draft(body="a\x00b", subject="Fine"))


def test_deliver_answers_once_for_every_row_from_the_closed_set(world, sender_user):
    sent, rows = rows_for(world, sender_user, addresses(world, 3))
    outcomes = world.method.deliver(sent, rows)
    assert [o.row_id for o in outcomes] == [row.id for row in rows]
    assert all(o.status in OUTCOMES for o in outcomes)
    assert {o.status for o in outcomes} <= {Status.SENT, Status.DELIVERED}  # taken, or confirmed at once


def test_a_recipient_refused_for_good_fails_alone_with_the_servers_words(world, sender_user):
    if world.refuse_one is None:
        pytest.skip("this counterpart refuses no single valid recipient")
    wanted = addresses(world, 3)
    world.refuse_one(world.method.normalize(wanted[1]))
    sent, rows = rows_for(world, sender_user, wanted)
    outcomes = world.method.deliver(sent, rows)
    assert [o.status == Status.FAILED for o in outcomes] == [False, True, False]
    assert {outcomes[0].status, outcomes[2].status} <= {Status.SENT, Status.DELIVERED}
    assert outcomes[1].reason and not outcomes[1].charged


def test_an_unreachable_counterpart_is_transient_never_a_failed_row(world, sender_user):
    if not world.unreachable:
        pytest.skip("no network between this method and its recipients")
    sent, rows = rows_for(world, sender_user, addresses(world, 2))
    with override_settings(SENDER=world.unreachable):
        try:
            outcomes = methods[world.alias].deliver(sent, rows)
        except DeliveryError as exc:
            assert not exc.permanent and exc.message
        else:
            assert {o.status for o in outcomes} == {RETRY}


def test_the_pipeline_waits_as_long_as_the_server_asked_and_keeps_the_rows_pending(db, sender_user):
    config = {**settings.SENDER, "RETRY_BACKOFF": 0.5, "RETRY_BACKOFF_MAX": 60,
              "METHODS": {**settings.SENDER["METHODS"],
                          "slow": {"BACKEND": "tests.testapp.methods.SlowDownMethod"}}}
    with override_settings(SENDER=config):
        Customer.objects.create(first_name="A", last_name="Wait")
        sent = commit(EVERYONE, sender_user, ["slow"], Draft(body="Hi"), "slow").sents.get()
        delay = deliver_batch(sent.pk, 0)
    assert delay >= 7.0  # the server's words, not our shorter backoff
    row = MessageRecipient.objects.get(message_sent=sent)
    assert (row.status, row.reason) == (Status.PENDING, "429 Too Many Requests")
