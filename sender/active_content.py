"""Active content in documents: macros in office files, scripts and embedded files in PDFs.

Read, never run or unpack to disk: office archives are scanned by member name and by the
few small XML parts that declare a macro part under any name; PDFs by the names in their
raw bytes (with `#xx` escapes decoded, so `/J#61vaScript` is `/JavaScript`) and in their
compressed object streams, where PDF 1.5 files keep most dictionaries.
"""

import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator

CHUNK = 1 << 20
# Office Open XML (.docx, .xlsx, .pptx and their macro-enabled twins): VBA projects and their
# data, Word's macro parts, Excel 4.0 macro sheets, ActiveX controls.
OOXML_MEMBER = re.compile(r"(vbaproject|vbadata|macros?|macrosheets?|activex)([/.]|\d|$)", re.IGNORECASE)
# Parts that may declare any part a macro part, by its content type or its relationship type.
OOXML_DECLARING = re.compile(r"(^\[content_types\]\.xml|\.rels)$", re.IGNORECASE)
OOXML_DECLARATION = re.compile(rb"""\b(?:ContentType|Type)\s*=\s*["'][^"']*"""
                               rb"""(?:vbaproject|vbadata|macroenabled|activex|macrosheet|relationships/control["'])""",
                               re.IGNORECASE)
# OpenDocument (.odt, .ods, .odp): Basic and script libraries, and events that call a macro.
ODF_MEMBER = re.compile(r"^(basic|scripts)/", re.IGNORECASE)
ODF_DECLARATION = re.compile(rb"vnd\.sun\.star\.script:|macro:///|script:event-listener", re.IGNORECASE)

# Names that only scripts, launch actions and embedded files use. "/JS" is short enough to
# turn up by chance in binary stream data, so it is looked for outside streams only; a
# script action always names its type, /JavaScript, too.
PDF_ACTIVE_NAMES = {b"JavaScript", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia"}
PDF_SHORT_NAMES = {b"JS"}
PDF_NAME = re.compile(rb"/([^\s()<>\[\]{}/%]*)")
PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"\bstream\r?\n")


class TooMuchToScan(Exception):
    """The file expands to more than we are willing to read to check it."""


def office_has_macros(archive: zipfile.ZipFile, odf: bool) -> bool:
    """Whether the office document holds macros, ActiveX controls or (ODF) macro calls."""
    names = archive.namelist()
    member, declaring, declaration = ((ODF_MEMBER, re.compile(r"\.xml$", re.IGNORECASE), ODF_DECLARATION) if odf
                                      else (OOXML_MEMBER, OOXML_DECLARING, OOXML_DECLARATION))
    if any(member.search(name) for name in names):
        return True
    return any(_contains(_read(archive, name), declaration) for name in names if declaring.search(name))


def pdf_active_names(data: bytes, max_expanded: int) -> set[str]:
    """The names of scripts, launch actions and embedded files the PDF holds, also inside
    Flate-compressed object streams (reading at most `max_expanded` bytes of them)."""
    found, outside, position, budget = set(), [], 0, [max_expanded]
    for match in PDF_STREAM.finditer(data):
        if match.start() < position:
            continue  # "stream" inside the data of the previous stream
        dictionary = data[max(position, data.rfind(b"obj", 0, match.start())):match.start()]
        names = {_decode_name(m.group(1)) for m in PDF_NAME.finditer(dictionary)}
        if b"ObjStm" in names and b"FlateDecode" in names:  # PDF 1.5 keeps dictionaries compressed here
            found |= _names(_inflate(data[match.end():], budget), PDF_ACTIVE_NAMES | PDF_SHORT_NAMES)
        outside.append(data[position:match.start()])
        end = data.find(b"endstream", match.end())
        position = len(data) if end < 0 else end
    outside.append(data[position:])
    found |= _names([data], PDF_ACTIVE_NAMES) | _names(outside, PDF_SHORT_NAMES)
    return {name.decode("ascii") for name in found}


def _names(chunks: Iterable[bytes], wanted: set[bytes]) -> set[bytes]:
    """Which of the `wanted` PDF names occur in `chunks` (read as one text, cut anywhere)."""
    found, tail = set(), b""
    for chunk in chunks:
        text = tail + chunk
        found |= {name for m in PDF_NAME.finditer(text) if (name := _decode_name(m.group(1))) in wanted}
        tail = text[-64:]  # a name cut between two chunks is seen whole in the next
    return found


def _decode_name(raw: bytes) -> bytes:
    return PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _inflate(data: bytes, budget: list[int]) -> Iterator[bytes]:
    """The decompressed stream at the start of `data`, in chunks, charged to `budget`."""
    inflater = zlib.decompressobj()
    pending = data
    try:
        while pending and not inflater.eof:
            chunk = inflater.decompress(pending, CHUNK)
            pending = inflater.unconsumed_tail
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise TooMuchToScan
            yield chunk
    except zlib.error:
        return  # a damaged stream: readers show nothing of it either


def _read(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with archive.open(name) as member:
        while chunk := member.read(CHUNK):
            yield chunk


def _contains(chunks: Iterable[bytes], pattern: re.Pattern) -> bool:
    tail = b""
    for chunk in chunks:
        text = tail + chunk
        if pattern.search(text):
            return True
        tail = text[-64:]
    return False
