"""The email address check's shortcut for plain addresses changes no outcome: every address,
tricky or random, normalizes to the same address (or is refused with the same reason) as
through the full check (IDNA, then Django's EmailValidator)."""

import random

import pytest

from sender.channels.email.method import _PLAIN_ADDRESS, EmailMethod, full_normalize
from sender.exceptions import InvalidAddress

METHOD = EmailMethod("email", {})


def outcome(normalize, address: str) -> tuple[str, str]:
    try:
        return "valid", normalize(address)
    except InvalidAddress as exc:
        return "invalid", str(exc)


TRICKY = [
    # plain, in every case
    "a@example.com", "First.Last+tag@Sub.Example.CO.UK", "x_y-z@a-b.example.org", "o'neil@example.ie",
    "!#$%&'*+/=?^_`{|}~-@example.com", "1@2.example.io", "user@xn--bcher-kva.de", "user@example.xn--p1ai",
    # dots in the wrong places
    ".a@example.com", "a.@example.com", "a..b@example.com", "a@.example.com", "a@example..com",
    "a@example.com.", "a@example.com..", "a@-example.com", "a@example-.com", "a@example.-com", "a@example.com-",
    # host and TLD shapes
    "a@localhost", "a@LOCALHOST", "a@example", "a@example.c", "a@example.123", "a@123.123.123.123",
    "a@[127.0.0.1]", "a@[IPv6:::1]", "a@[::1]", "a@[999.1.1.1]", "a@example.c-m", "a@example.-cm",
    "a@exa_mple.com", "a@example.com:25", "a@" + "h" * 63 + ".com", "a@" + "h" * 64 + ".com",
    "a@example." + "c" * 63, "a@example." + "c" * 64, "a@example.xn--" + "a" * 59, "a@example.xn--" + "a" * 60,
    # IDNA and other non-ASCII
    "user@bücher.de", "user@BÜCHER.de", "user@ſample.com", "user@\u212aelvin.com", "ſ@example.com",
    "\u212a@example.com", "josé@example.com", "user@exam\u00adple.com", "user@пример.рф", "user@例え.テスト",
    "user@example.com\u200b", "user@ex\u200dample.com", "user@xn--.com", "user@xn--zz.com",
    # quoting, spaces, several @
    '"quoted"@example.com', '"a b"@example.com', '"a@b"@example.com', '"a\\"b"@example.com', "a b@example.com",
    "a@b@example.com", "@example.com", "a@", "@", "", "   ", "a", "a@example.com\n", "a\n@example.com",
    "a@exam\nple.com", "a\t@example.com", "<a@example.com>", "a@example.com>", "a(comment)@example.com",
    "a\\b@example.com", "a,b@example.com", "a;b@example.com", "a[b]@example.com", "a:b@example.com",
    # lengths around the limits
    "l" * 64 + "@example.com", "l" * 65 + "@example.com", "a@" + ".".join(["h" * 63] * 3) + ".com",
    "l" * 64 + "@" + ".".join(["h" * 40] * 4) + ".com", "l" * 64 + "@" + ".".join(["h" * 40] * 6) + ".com",
    "l" * 200 + "@" + "h" * 50 + ".com", "l" * 300 + "@example.com",
]


@pytest.mark.parametrize("address", TRICKY)
def test_tricky_addresses_get_the_same_answer_as_from_the_full_check(address):
    assert outcome(METHOD.normalize, address) == outcome(full_normalize, address.strip())
    assert outcome(METHOD.normalize, f"  {address}\t") == outcome(METHOD.normalize, address.strip())


def test_the_plain_pattern_takes_the_common_address_and_nothing_unusual():
    """The shortcut is really taken for ordinary addresses (otherwise the comparisons above
    prove nothing), and never for what only the full check may judge."""
    for address in ("a@example.com", "First.Last+tag@Sub.Example.CO.UK", "user@xn--bcher-kva.de"):
        assert _PLAIN_ADDRESS.fullmatch(address)
    for address in ("user@bücher.de", "user@ſample.com", "user@\u212aelvin.com", '"quoted"@example.com',
                    "a@localhost", "a@[127.0.0.1]", "a@example.com.", "a@b@example.com", "a@example.c"):
        assert not _PLAIN_ADDRESS.fullmatch(address)
    assert METHOD.normalize("User@Example.COM") == "user@example.com"
    assert METHOD.normalize("user@Bücher.de") == "user@xn--bcher-kva.de"
    assert METHOD.normalize('"quoted"@example.com') == '"quoted"@example.com'
    assert METHOD.normalize("a@localhost") == "a@localhost"
    for address in ("a@example.com.", "a..b@example.com", "a@exa_mple.com", "a@example.c"):
        with pytest.raises(InvalidAddress):
            METHOD.normalize(address)


ALPHABET = "aZ09.-_+@\"' \\[]:;,()<>!#$%&*/=?^`{|}~\t\nßſ\u212aüé\u00ad\u200bя例"
PIECES = ["a", "example", "com", "xn--", ".", "..", "-", "@", "@@", '"', "[", "]", "1", "co", "ü", "ſ",
          "\u212a", "x" * 63, "x" * 64, " "]


def mutations(rng: random.Random, n: int):
    """Random addresses near the valid ones: a valid address with characters replaced,
    inserted or deleted, and addresses glued together from pieces."""
    bases = ["john.smith@example.com", "a@b.co", "x+y@mail.example.it", "u@xn--bcher-kva.de"]
    for _ in range(n):
        s = list(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(s) + 1)
            action = rng.randrange(3)
            if action == 0:
                s.insert(i, rng.choice(ALPHABET))
            elif s and action == 1:
                s[min(i, len(s) - 1)] = rng.choice(ALPHABET)
            elif s:
                del s[min(i, len(s) - 1)]
        yield "".join(s)
        yield "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))


def test_random_addresses_near_the_valid_ones_get_the_same_answer_as_from_the_full_check():
    rng = random.Random(17)
    plain = 0
    for address in mutations(rng, 20_000):
        assert outcome(METHOD.normalize, address) == outcome(full_normalize, address.strip()), address
        plain += bool(_PLAIN_ADDRESS.fullmatch(address.strip()))
    assert plain > 1000  # the shortcut was taken often enough for the comparison to mean something
