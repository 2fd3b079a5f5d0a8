"""A formatted email body: a small, safe subset of Markdown turned into HTML, and into the
plain text sent beside it (multipart/alternative).

Only what office messages need: paragraphs, line breaks, headings (`#` to `######`),
**bold**, *italic*, [links](https://…) and lists (`-`, `*`, `+` or `1.`). Every character
of the source is HTML-escaped before any tag is added, so the output holds no markup but
the tags below; links keep only http, https and mailto addresses. No style, no script, no
image: it passes the dashboard's CSP as it is and every mail client shows it the same way.
"""

import re
from html import escape

from django.utils.safestring import SafeString, mark_safe

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
NUMBER = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
LINK = re.compile(r"\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)")
SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s\"'<>]+$", re.IGNORECASE)
STRONG = (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"))
EM = (re.compile(r"(?<!\*)\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)"), re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"))


def _emphasis(escaped: str) -> str:
    for pattern in STRONG:
        escaped = pattern.sub(r"<strong>\1</strong>", escaped)
    for pattern in EM:
        escaped = pattern.sub(r"<em>\1</em>", escaped)
    return escaped


def _inline(text: str) -> str:
    """One line or paragraph: escaped, then links and emphasis."""
    out, pos = [], 0
    for match in LINK.finditer(text):
        out.append(_emphasis(escape(text[pos:match.start()])))
        label, url = match.groups()
        if SAFE_URL.match(url):
            out.append(f'<a href="{escape(url)}">{_emphasis(escape(label))}</a>')
        else:
            out.append(_emphasis(escape(match.group(0))))
        pos = match.end()
    out.append(_emphasis(escape(text[pos:])))
    return "".join(out)


def _plain_inline(text: str) -> str:
    text = LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if SAFE_URL.match(m.group(2)) else m.group(0), text)
    for pattern in (*STRONG, *EM):
        text = pattern.sub(r"\1", text)
    return text


def _blocks(source: str) -> list[list[str]]:
    """Paragraphs, split on blank lines; a heading line is a block of its own."""
    blocks: list[list[str]] = [[]]
    for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            blocks.append([])
        elif HEADING.match(line):
            blocks += [[line], []]
        else:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def _list_kind(lines: list[str]) -> re.Pattern | None:
    for pattern in (BULLET, NUMBER):
        if all(pattern.match(line) for line in lines):
            return pattern
    return None


def to_html(source: str) -> SafeString:
    """The HTML body of a Markdown source (safe: built from escaped text and fixed tags)."""
    html = []
    for lines in _blocks(source):
        heading = HEADING.match(lines[0])
        kind = _list_kind(lines)
        if heading:
            level = len(heading.group(1))
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif kind is not None:
            tag = "ul" if kind is BULLET else "ol"
            items = "".join(f"<li>{_inline(kind.match(line).group(1))}</li>" for line in lines)
            html.append(f"<{tag}>{items}</{tag}>")
        else:
            html.append("<p>" + "<br>\n".join(_inline(line) for line in lines) + "</p>")
    return mark_safe("\n".join(html))  # noqa: S308 (every piece of source text went through escape)


def to_text(source: str) -> str:
    """The plain-text alternative: the same words, markers dropped, links as "text (address)"."""
    out = []
    for lines in _blocks(source):
        heading = HEADING.match(lines[0])
        kind = _list_kind(lines)
        if heading:
            out.append(_plain_inline(heading.group(2)))
        elif kind is not None:
            numbered = kind is NUMBER
            out.append("\n".join(f"{f'{i}.' if numbered else '-'} {_plain_inline(kind.match(line).group(1))}"
                                 for i, line in enumerate(lines, 1)))
        else:
            out.append("\n".join(_plain_inline(line) for line in lines))
    return "\n\n".join(out) + "\n"


def document(body_html: str, footer_html: str = "") -> str:
    """A whole HTML email around the rendered body."""
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
            f"{body_html}\n{footer_html}</body></html>\n")
