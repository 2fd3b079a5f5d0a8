import pytest

from sender.channels.sms.text import analyze


@pytest.mark.parametrize("text, encoding, units, segments", [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # extension characters count twice
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # an escape pair is never split across segments
    ("Perché è così", "GSM-7", 13, 1),  # Italian accents in the GSM basic set
    ("Ciao ò ù à ì", "GSM-7", 12, 1),
    ("ç" * 70, "UCS-2", 70, 1),  # lower-case ç is not GSM-7 (only Ç is)
    ("ç" * 71, "UCS-2", 71, 2),
    ("😀" * 35, "UCS-2", 70, 1),  # emoji are two UTF-16 units
    ("a" * 66 + "😀" + "ç", "UCS-2", 69, 1),
    ("a" * 66 + "😀" + "ç" * 4, "UCS-2", 72, 2),
])
def test_it_counts_units_and_segments_like_the_gateway(text, encoding, units, segments):
    info = analyze(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_it_names_the_characters_that_force_ucs2_once_each():
    assert analyze("Ciao ç, ç and 😀!").ucs2_chars == ("ç", "😀")


def test_lookalikes_are_replaced_so_a_pasted_space_does_not_double_the_price():
    info = analyze("Prezzo:\xa010\u202f€".replace("\u202f", "") + " \u201cok\u201d")
    assert info.encoding == "GSM-7"
    assert info.text == 'Prezzo: 10€ "ok"'


def test_remaining_counts_down_within_the_last_segment():
    assert analyze("a" * 150).remaining == 10
    assert analyze("a" * 200).remaining == 106
