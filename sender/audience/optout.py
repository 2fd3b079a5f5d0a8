"""Opt-out per send method: the addresses that asked for no more messages.

Other parts call `opt_out(method, address)` (the Telegram bot on /stop, the SMS "STOP"
receiver, the unsubscribe page); the pipeline calls `opted_out(...)` once per batch of
recipients, so every later preview and send classifies them invalid ("opted out").
Addresses are stored as the method normalizes them on recipient rows: callers normalize
(the methods live in a layer above this one).
"""

from collections.abc import Iterable

from django.core import signing

from sender.audience.models import OptOut
from sender.statements import Statement

SALT = "sender.api.unsubscribe"
PRELOAD_MAX = 100_000  # opt-outs kept in memory for one classify run (about 15 MB at most)
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRESTA", "BASTA"})


def opt_out(method: str, address: str, source: str = OptOut.Source.STAFF) -> bool:
    """Record that `address` wants nothing more over `method`. True if it was new."""
    _, created = OptOut.objects.get_or_create(method=method, address=address,
                                              defaults={"source": source})
    return created


def opt_in(method: str, address: str) -> bool:
    """Undo an opt-out (the person asked again, e.g. Telegram /start). True if there was one."""
    deleted, _ = OptOut.objects.filter(method=method, address=address).delete()
    return bool(deleted)


def is_opted_out(method: str, address: str) -> bool:
    return OptOut.objects.filter(method=method, address=address).exists()


def opted_out(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (method, normalized address) pairs opted out, in one query."""
    by_method: dict[str, set[str]] = {}
    for method, address in pairs:
        by_method.setdefault(method, set()).add(address)
    if not by_method:
        return set()
    # Written out rather than built by the ORM: a send from code asks this about its one
    # number every call, and building the query cost more than running it.
    where = " OR ".join(f"({{method}} = %(method{i})s AND {{address}} IN (%(addresses{i})s))" for i in range(len(by_method)))
    values = {}
    for i, (method, addresses) in enumerate(by_method.items()):
        values[f"method{i}"], values[f"addresses{i}"] = method, sorted(addresses)
    found = Statement(OptOut, f"SELECT {{columns}} FROM {{table}} WHERE {where}", columns=["method", "address"])
    return {(row.method, row.address) for row in found.rows(**values)}


class Suppressions:
    """The opt-outs of some methods, for one classify run: loaded with one query when they
    are at most PRELOAD_MAX (the usual case: a few per thousand recipients), otherwise looked
    up once per chunk of recipients. Never once per address. A run that is one small chunk
    (a send from code to a few numbers) asks about its own addresses only: loading every
    opt-out to check one number would cost more than the send."""

    def __init__(self, aliases: Iterable[str]):
        self.aliases = list(aliases)
        self.known: set[tuple[str, str]] | None = None
        self.loaded = False

    def load(self) -> None:
        """Read every opt-out of these methods, if they are few enough to keep (`known`)."""
        rows = list(OptOut.objects.filter(method__in=self.aliases).values_list("method", "address")
                    [: PRELOAD_MAX + 1]) if self.aliases else []
        self.known, self.loaded = (set(rows) if len(rows) <= PRELOAD_MAX else None), True

    def refused(self, pairs: set[tuple[str, str]], only: bool = False) -> set[tuple[str, str]]:
        """Which of these (method, normalized address) pairs opted out. `only`: these are all
        the run will ask about."""
        if not self.loaded and only:
            return opted_out(pairs)
        if not self.loaded:
            self.load()
        return pairs & self.known if self.known is not None else opted_out(pairs)


def is_stop_word(text: str) -> bool:
    """An SMS that says only STOP (or a synonym), whatever the case and punctuation."""
    word = "".join(ch for ch in text.upper() if ch.isalnum())
    return word in STOP_WORDS


def unsubscribe_token(method: str, address: str) -> str:
    """A signed, URL-safe token naming one address of one method; no database row needed."""
    return signing.dumps([method, address], salt=SALT, compress=True)


def read_token(token: str) -> tuple[str, str]:
    """(method, address) from a token, or signing.BadSignature."""
    value = signing.loads(token, salt=SALT)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise signing.BadSignature("Unexpected token content.")
    return value[0], value[1]
