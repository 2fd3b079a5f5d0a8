"""Property-based tests (hypothesis): whatever arrives — addresses, phone numbers, Unicode
bodies, filter query strings, posted ids and JSON, uploaded files — gets a clear answer
(a reason, a form error, a 400) and never a crash or a half-written broadcast."""

import io
import json
import os
import string
import uuid
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from sender.attachments import store_attachment
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.exceptions import InvalidAddress, SelectionError
from sender.models import Broadcast, MessageAttachment, MessageRecipient
from sender.pipeline.classify import ADDRESS_MAX, classify
from sender.pipeline.preview import preview
from tests.factories import customers

Status = MessageRecipient.Status
DB_EXAMPLES = hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FAST = hsettings(max_examples=150, deadline=None)

# Text that hurts: controls, NUL, bidi overrides, combining marks, astral emoji, lookalikes.
nasty = st.text(st.characters(codec="utf-8"), max_size=80) | st.sampled_from([
    "", " ", "\x00", "a@b\x00.it", "x@y.it\r\nBcc: z@evil.it", "\u202eti.elpmaxe@olleh", "ｍａｒｉｏ@ｅｘａｍｐｌｅ.it",
    "mario@xn--80ak6aa92e.com", "mario@пример.рф", "\"quoted local\"@example.com", "a" * 300 + "@x.it",
    "+39 347 123 4567", "00393471234567", "+393471234567" + "\u0660", "+1-800-FLOWERS", "١٢٣٤٥٦٧٨٩٠", "🙂@🙂.it",
])
emails = nasty | st.emails().map(str)
phones = nasty | st.from_regex(r"\+?[0-9 ()\-.]{3,20}", fullmatch=True)


def address_methods():
    return [m for m in (methods[a] for a in methods) if m.address_field in ("email", "sms")]


@FAST
@given(raw=emails)
def test_email_normalize_gives_a_clean_canonical_address_or_a_reason(raw):
    method = next(m for m in address_methods() if m.address_field == "email")
    try:
        address = method.normalize(raw)
    except InvalidAddress as exc:
        assert str(exc)
        return
    assert address == method.normalize(address)  # canonical: normalizing again changes nothing
    assert address.isascii() and address.isprintable() and not any(c.isspace() for c in address)
    assert "\x00" not in address


@FAST
@given(raw=phones)
def test_phone_normalize_gives_e164_or_a_reason(raw):
    sms = [m for m in address_methods() if m.address_field == "sms"]
    if not sms:
        pytest.skip("no SMS method configured")
    try:
        number = sms[0].normalize(raw)
    except InvalidAddress as exc:
        assert str(exc)
        return
    assert number.startswith("+") and number[1:].isdigit() and len(number) <= 16
    assert sms[0].normalize(number) == number


@DB_EXAMPLES
@given(people=st.lists(st.tuples(emails, phones), max_size=30))
def test_classify_gives_every_recipient_one_row_per_method_with_a_reason(people, db):
    loaded = address_methods()
    resolved = [(1, str(i), {"email": e, "sms": p, "telegram": None}, None) for i, (e, p) in enumerate(people)]
    rows = list(classify(resolved, loaded))
    assert len(rows) == len(people) * len(loaded)
    for method in loaded:
        mine = [r for r in rows if r.method == method.alias]
        valid = [r.address for r in mine if r.status == Status.PENDING]
        assert len(valid) == len(set(valid))  # deduplicated
        for row in mine:
            assert row.status in (Status.PENDING, Status.INVALID, Status.DUPLICATE)
            assert len(row.address) <= ADDRESS_MAX
            assert (row.status == Status.PENDING) == (row.reason == "")


@FAST
@given(body=st.text(st.characters(codec="utf-8"), max_size=400))
def test_any_unicode_body_is_counted_for_sms(body):
    from sender.channels.sms.text import analyze

    text = analyze(body)
    assert text.encoding in ("GSM-7", "UCS-2")
    assert (text.segments == 0) == (text.units == 0)
    assert text.segments <= max(1, text.units)


@DB_EXAMPLES
@given(subject=nasty, body=nasty)
def test_any_subject_and_body_is_previewed_or_refused_with_a_sentence(subject, body, sender_user):
    if not MessageRecipient.objects.exists():
        customers(1)
    selection = Selection.parse({"recipients.customer": {"filter": ""}})
    try:
        result = preview(selection, sender_user, ["email", "storage"], Draft(body=body, subject=subject))
    except SelectionError as exc:
        assert exc.errors and all(str(e) for e in exc.errors)
    else:
        assert body.strip() and "\x00" not in body + subject and "\n" not in subject and "\r" not in subject
        assert len(result.methods) == 2
    assert not Broadcast.objects.exists()


def test_a_subject_that_would_inject_a_header_is_refused(sender_user):
    customers(1)
    selection = Selection.parse({"recipients.customer": {"filter": ""}})
    with pytest.raises(SelectionError, match="single line"):
        preview(selection, sender_user, ["email"], Draft(body="Hi", subject="Hello\r\nBcc: all@example.com"))


query_strings = st.lists(st.tuples(st.sampled_from(["q", "city", "sort", "page", "typology", "x", "q[]", ""]), nasty),
                         max_size=5).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)) | nasty


@DB_EXAMPLES
@given(qs=query_strings)
def test_any_filter_query_string_is_a_table_or_a_clear_refusal(qs, sender_user):
    client = Client()
    client.force_login(sender_user)
    # As a WSGI server hands it over: the raw bytes, read as latin-1.
    response = client.get("/send/recipients/recipients.customer/", QUERY_STRING=qs.encode("utf-8").decode("latin-1"))
    assert response.status_code == 200
    try:
        selection = Selection.parse({"recipients.customer": {"filter": qs}})
        preview(selection, sender_user, ["storage"], Draft(body="Hi"))
    except SelectionError as exc:
        assert exc.errors
    assert not Broadcast.objects.exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)
selections = json_values | st.dictionaries(
    st.sampled_from(["recipients.customer", "recipients.externalsubject", "auth.user", "nope", ""]),
    st.dictionaries(st.sampled_from(["ids", "filter", "x"]), json_values | st.lists(
        st.integers() | st.text(max_size=10), max_size=5), max_size=2),
    max_size=3,
)


@DB_EXAMPLES
@given(selection=selections, methods_posted=st.lists(st.text(max_size=10) | st.sampled_from(["email", "storage"]),
                                                       max_size=3))
def test_posted_selection_json_and_ids_get_a_form_error_and_write_nothing(selection, methods_posted, sender_user):
    client = Client()
    client.force_login(sender_user)
    data = {"selection": json.dumps(selection), "methods": methods_posted, "subject": "S", "body": "B",
            "idempotency_key": uuid.uuid4().hex}
    assert client.post("/send/preview/", data).status_code == 200  # a fragment with the errors in it
    response = client.post("/send/", data)
    assert response.status_code == 400  # nobody exists to send to, so nothing can be valid
    assert response.context["form"].errors
    assert not Broadcast.objects.exists()


@DB_EXAMPLES
@given(raw=st.text(max_size=60))
def test_any_posted_selection_text_is_read_or_refused_politely(raw, sender_user):
    client = Client()
    client.force_login(sender_user)
    before = Broadcast.objects.count()
    response = client.post("/send/", {"selection": raw, "methods": ["storage"], "body": "B",
                                      "idempotency_key": uuid.uuid4().hex})
    assert response.status_code in (200, 302, 400)
    if response.status_code != 302:
        assert Broadcast.objects.count() == before


# --- uploads -------------------------------------------------------------------------------

def png(width=8, height=8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(out, "PNG")
    return out.getvalue()


def png_bomb() -> bytes:
    """A tiny PNG that claims 100,000 × 100,000 pixels."""
    data = bytearray(png(1, 1))
    data[16:24] = (100_000).to_bytes(4, "big") * 2  # width and height in IHDR
    import zlib
    crc = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    data[29:33] = crc
    return bytes(data)


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


HOSTILE_FILES = {
    "pdf with a zip inside (polyglot)": ("report.pdf", b"%PDF-1.4\n%fake\n" + zip_bytes({"evil.exe": b"MZ"})),
    "png pixel bomb": ("photo.png", png_bomb()),
    "docx zip bomb": ("letter.docx", zip_bytes({"word/document.xml": b"<w/>", "pad.bin": b"\0" * 25_000_000})),
    "docx with macros": ("letter.docx", zip_bytes({"word/document.xml": b"<w/>", "word/vbaProject.bin": b"x"})),
    "zip renamed docx": ("letter.docx", zip_bytes({"readme.txt": b"hi"})),
    "png named pdf": ("invoice.pdf", png()),
    "exe named txt": ("notes.txt", b"MZ\x90\x00\x03\x00\x00\x00"),
    "html": ("page.html", b"<script>alert(1)</script>"),
    "svg with script": ("logo.svg", b"<svg onload=alert(1)>"),
    "double extension": ("photo.png.exe", png()),
    "path traversal name": ("../../etc/passwd", b"root:x:0:0"),
    "empty": ("empty.txt", b""),
    "latin-1 text": ("notes.txt", "caffè".encode("latin-1")),
    "truncated png": ("photo.png", png()[:40]),
    "gif header only": ("anim.gif", b"GIF89a" + b"\x00" * 20),
}


@pytest.mark.parametrize("name,data", HOSTILE_FILES.values(), ids=list(HOSTILE_FILES))
def test_hostile_uploads_get_a_sentence_and_nothing_is_stored(name, data, sender_user, settings, tmp_path):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 200_000}  # a zip bomb expands past 100×
    client = Client()
    client.force_login(sender_user)
    response = client.post("/send/attachments/", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400
    assert response.json()["error"].endswith(".")
    assert not MessageAttachment.objects.exists()
    stored = tmp_path / "attachments"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


extensions = st.sampled_from(["pdf", "png", "jpg", "gif", "webp", "txt", "csv", "docx", "xlsx", "odt", "ods",
                              "exe", "html", "", "PDF", "tar.gz"])
prefixes = st.sampled_from([b"", b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"PK\x03\x04",
                            b"RIFF\x00\x00\x00\x00WEBP"])


@DB_EXAMPLES
@given(stem=st.text(string.ascii_letters + "._- /\\", min_size=0, max_size=20), ext=extensions,
       head=prefixes, tail=st.binary(max_size=2000))
def test_any_upload_is_stored_cleanly_or_refused_with_a_sentence(stem, ext, head, tail, sender_user):
    before = MessageAttachment.objects.count()
    name = f"{stem}.{ext}" if ext else stem
    assume(os.path.basename(name) not in {"", ".", ".."})  # Django's upload parser never passes such a name on
    upload = SimpleUploadedFile(name, head + tail)
    try:
        attachment = store_attachment(upload, sender_user)
    except ValidationError as exc:
        assert exc.messages and all(m.endswith(".") for m in exc.messages)
        assert MessageAttachment.objects.count() == before
        return
    assume(attachment)
    assert "/" not in attachment.name and "\\" not in attachment.name
    kind = attachment.name.lower().rsplit(".", 1)[-1]
    assert kind in {"txt", "csv", "pdf"}  # random bytes pass only as text, or as PDF (checked by magic only)
    content = attachment.file.read()
    if kind == "pdf":
        assert content.startswith(b"%PDF-") and not zipfile.is_zipfile(io.BytesIO(content))
    else:
        content.decode("utf-8")
