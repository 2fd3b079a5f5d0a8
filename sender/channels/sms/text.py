"""SMS text facts: GSM-7 or UCS-2, how many segments, which characters force UCS-2.

One implementation serves the compose page's live counter and the SMS method's price,
so what staff see is what the gateway bills.
"""

from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each) and extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Characters that look like GSM-7 ones but are not: replaced before counting and sending,
# so a pasted no-break space or curly quote does not double the price.
LOOKALIKES = str.maketrans({"\xa0": " ", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                            "\u2013": "-", "\u2014": "-", "\u2026": "...", "\t": " "})

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SmsText:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    ucs2_chars: tuple[str, ...]  # the characters that force UCS-2, in order of appearance

    @property
    def remaining(self) -> int:
        """Units left in the last segment before another one starts."""
        return self.segments * self.per_segment - self.units if self.units else self.per_segment


def clean(text: str) -> str:
    return text.translate(LOOKALIKES)


def analyze(text: str) -> SmsText:
    text = clean(text)
    outside = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENDED))
    if not outside:
        sizes = [2 if c in GSM7_EXTENDED else 1 for c in text]
        single, multi, encoding = GSM7_SINGLE, GSM7_MULTI, "GSM-7"
    else:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi, encoding = UCS2_SINGLE, UCS2_MULTI, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return SmsText(text, encoding, units, 1 if units else 0, single, outside)
    return SmsText(text, encoding, units, _pack(sizes, multi), multi, outside)


def _pack(sizes: list[int], capacity: int) -> int:
    """Segments needed when an escape pair or a surrogate pair is never split across two."""
    segments, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            segments, used = segments + 1, 0
        used += size
    return segments


# Transliteration: the nearest GSM-7 character for common ones outside it (only when asked).
TRANSLITERATE = str.maketrans({"ç": "Ç", "á": "a", "í": "i", "ó": "o", "ú": "u", "È": "E", "À": "A", "Ì": "I",
                               "Ò": "O", "Ù": "U", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U", "ê": "e", "â": "a",
                               "ô": "o", "î": "i", "û": "u", "ë": "e", "ï": "i", "`": "'", "´": "'"})


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 by their nearest GSM-7 form where one exists
    (accents dropped, typographic quotes straightened). Others (emoji, Cyrillic) stay."""
    import unicodedata

    out = []
    for char in clean(text).translate(TRANSLITERATE):
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in base if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in base) else char)
    return "".join(out)
