"""store_attachment: bad files are refused with a sentence and leave nothing behind;
good files are stored privately with their hash, size and sniffed type, and images lose
their metadata."""

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sender.attachments import store_attachment
from sender.models import MessageAttachment

pytestmark = pytest.mark.django_db


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"


# --- building test files --------------------------------------------------------------

def image_bytes(fmt: str, size=(40, 20), color=(200, 30, 30), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Spy Camera Inc."  # Make
    exif[0x0131] = "SecretEditor 1.0"  # Software
    exif[0x0112] = orientation
    exif.get_ifd(0x8825)[2] = (45.0, 26.0, 0.0)  # GPS latitude: where the photo was taken
    return image_bytes("JPEG", exif=exif.tobytes())


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=compress)
    return out.getvalue()


def docx() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares huge dimensions in a few bytes: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def stored_files() -> list[Path]:
    root = Path(django_settings.STORAGES["attachments"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_refused(user, name: str, content: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        store_attachment(upload(name, content), user)
    assert exc.value.messages == [message]
    assert MessageAttachment.objects.count() == 0
    assert stored_files() == []


def stored_bytes(attachment: MessageAttachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


# --- refused ---------------------------------------------------------------------------

def test_it_refuses_a_file_over_the_size_limit(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 1000}
    assert_refused(sender_user, "big.txt", b"a" * 1001,
                   "“big.txt” is too large (1001\xa0bytes); attachments may be at most 1000\xa0bytes.")


def test_it_accepts_a_file_exactly_at_the_size_limit(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 1000}
    attachment = store_attachment(upload("fits.txt", b"a" * 1000), sender_user)
    assert attachment.size == 1000


def test_it_does_not_trust_a_declared_size(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 1000}
    liar = File(io.BytesIO(b"a" * 5000), name="liar.txt")
    liar.size = 10
    with pytest.raises(ValidationError) as exc:
        store_attachment(liar, sender_user)
    assert exc.value.messages == [
        "“liar.txt” is too large (more than that); attachments may be at most 1000\xa0bytes."
    ]
    assert MessageAttachment.objects.count() == 0
    assert stored_files() == []


def test_it_refuses_an_empty_file(sender_user):
    assert_refused(sender_user, "empty.pdf", b"", "“empty.pdf” is empty.")


@pytest.mark.parametrize("name", ["archive.zip", "setup.exe", "page.html", "script.svg", "README", ".pdf"])
def test_it_refuses_extensions_not_on_the_allow_list(sender_user, name):
    assert_refused(
        sender_user, name, b"hello",
        f"“{name}” cannot be attached: allowed file types are csv, docx, gif, jpeg, jpg, mp3, mp4, ods, odt, "
        "pdf, png, txt, webp, xlsx.",
    )


def test_it_refuses_a_png_renamed_pdf(sender_user):
    assert_refused(sender_user, "invoice.pdf", image_bytes("PNG"),
                   "“invoice.pdf” is not what its .pdf extension promises: its content is a PNG image.")


def test_it_refuses_a_pdf_renamed_png(sender_user):
    assert_refused(sender_user, "photo.png", PDF,
                   "“photo.png” is not what its .png extension promises: its content is a PDF document.")


def test_it_refuses_a_jpeg_renamed_gif(sender_user):
    assert_refused(sender_user, "anim.gif", image_bytes("JPEG"),
                   "“anim.gif” is not what its .gif extension promises: its content is a JPEG image.")


def test_it_refuses_garbage_named_pdf(sender_user):
    assert_refused(sender_user, "report.pdf", b"MZ\x90\x00\x03 this is a Windows program",
                   "“report.pdf” is not what its .pdf extension promises: its content is text or unrecognised data.")


def test_it_refuses_a_pdf_renamed_txt(sender_user):
    assert_refused(sender_user, "notes.txt", PDF,
                   "“notes.txt” is not what its .txt extension promises: its content is a PDF document.")


def test_it_refuses_a_zip_renamed_docx_without_the_document(sender_user):
    archive = zip_bytes({"payload.exe": b"MZ...", "readme.txt": b"hi"})
    assert_refused(sender_user, "letter.docx", archive, "“letter.docx” is a ZIP archive, not a real .docx document.")


def test_it_refuses_a_docx_renamed_xlsx(sender_user):
    assert_refused(sender_user, "sheet.xlsx", docx(), "“sheet.xlsx” is a ZIP archive, not a real .xlsx document.")


def test_it_refuses_an_odt_renamed_ods(sender_user):
    odt = zip_bytes({"mimetype": ODT.encode(), "content.xml": b"<office:document-content/>"})
    assert_refused(sender_user, "table.ods", odt, "“table.ods” is a ZIP archive, not a real .ods document.")


def test_it_refuses_a_damaged_office_archive(sender_user):
    assert_refused(sender_user, "broken.docx", b"PK\x03\x04" + b"\x00garbage" * 20,
                   "“broken.docx” is damaged: its archive cannot be read.")


def test_it_refuses_an_office_document_with_macros(sender_user):
    archive = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>",
                         "word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})
    assert_refused(sender_user, "macro.docx", archive, "“macro.docx” contains macros, which cannot be attached.")


OOXML_TYPES = b'<Types><Override PartName="/word/document.xml" ContentType="%s"/></Types>'
WORD_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
VBA_RELATIONSHIP = b"http://schemas.microsoft.com/office/2006/relationships/vbaProject"
RELS = b'<Relationships><Relationship Id="rId1" Type="%s" Target="%s"/></Relationships>'


def office(ext: str, extra: dict[str, bytes], content_types: bytes = OOXML_TYPES % WORD_MAIN) -> bytes:
    if ext in ("odt", "ods"):
        mimetype = (ODT if ext == "odt" else ODS).encode()
        return zip_bytes({"mimetype": mimetype, "content.xml": b"<office:document-content/>", **extra})
    main = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}[ext]
    return zip_bytes({"[Content_Types].xml": content_types, main: b"<document/>", **extra})


@pytest.mark.parametrize("ext,extra,content_types", [
    ("docx", {"word/vbaData.xml": b"<wne:vbaSuppData/>"}, None),
    ("docx", {"word/macros.bin": b"\xd0\xcf\x11\xe0"}, None),
    ("docx", {"word/activeX/activeX1.xml": b"<ax:ocx/>", "word/activeX/activeX1.bin": b"\xd0\xcf"}, None),
    ("xlsx", {"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}, None),
    # a VBA project under an innocent name, declared by its content type
    ("docx", {"word/payload.dat": b"\xd0\xcf\x11\xe0"},
     b'<Types><Override PartName="/word/payload.dat" ContentType="application/vnd.ms-office.vbaProject"/></Types>'),
    ("docx", {}, OOXML_TYPES % b"application/vnd.ms-word.document.macroEnabled.main+xml"),
    # ... or by its relationship
    ("xlsx", {"xl/_rels/workbook.xml.rels": RELS % (VBA_RELATIONSHIP, b"data.dat"), "xl/data.dat": b"\xd0\xcf"}, None),
    ("odt", {"Basic/Standard/Module1.xml": b"<script:module/>"}, None),
    ("ods", {"Scripts/python/run.py": b"import os"}, None),
    ("odt", {"content.xml": b'<office:document-content><office:event-listeners><script:event-listener '
                            b'xlink:href="vnd.sun.star.script:Standard.Module1.Run?language=Basic"/>'
                            b"</office:event-listeners></office:document-content>"}, None),
])
def test_it_refuses_office_documents_with_macros_in_any_form(sender_user, ext, extra, content_types):
    data = office(ext, extra, content_types) if content_types else office(ext, extra)
    assert_refused(sender_user, f"macro.{ext}", data, f"“macro.{ext}” contains macros, which cannot be attached.")


def test_it_accepts_an_office_document_that_only_mentions_macros(sender_user):
    link = RELS % (b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink",
                   b"https://example.com/activex-and-vbaProject-explained")
    data = office("docx", {"word/_rels/document.xml.rels": link, "word/media/macro_photo.png": b"x"})
    assert store_attachment(upload("guide.docx", data), sender_user).size == len(data)


def pdf(*objects: bytes) -> bytes:
    body = b"".join(b"%d 0 obj\n%s\nendobj\n" % (n, o) for n, o in enumerate(objects, start=1))
    return b"%PDF-1.7\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def object_stream(*objects: bytes) -> bytes:
    """PDF 1.5's compressed object stream, which hides dictionaries from a plain byte search."""
    offsets, body = [], b""
    for n, o in enumerate(objects, start=10):
        offsets.append(b"%d %d" % (n, len(body)))
        body += o + b"\n"
    header = b" ".join(offsets) + b"\n"
    data = zlib.compress(header + body)
    return (b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
            % (len(objects), len(header), len(data), data))


@pytest.mark.parametrize("content,found", [
    (pdf(b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /JavaScript /JS (app.alert(1)) >>"), "/JS, /JavaScript"),
    (pdf(b"<< /Type /Catalog /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >>"), "/JS, /JavaScript"),
    (pdf(b"<< /Type /Catalog /OpenAction << /S /Launch /F (cmd.exe) >> >>"), "/Launch"),
    (pdf(b"<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >>",
         b"<< /Type /Filespec /F (x.exe) /EF << /F 3 0 R >> >>",
         b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream"), "/EmbeddedFile, /EmbeddedFiles"),
    (pdf(b"<< /Type /Catalog /OpenAction 10 0 R >>",
         object_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>")), "/JS, /JavaScript"),
])
def test_it_refuses_pdfs_with_scripts_launch_actions_or_embedded_files(sender_user, content, found):
    assert_refused(sender_user, "invoice.pdf", content, f"“invoice.pdf” contains scripts, launch actions or "
                                                        f"embedded files ({found}), which cannot be attached.")


def test_it_accepts_a_pdf_whose_open_action_only_sets_the_view_and_whose_data_happens_to_hold_js(sender_user):
    page_data = b"\x00\x9c/JS \x01\x02" * 10  # binary stream data, where "/JS" turns up by chance
    content = pdf(b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /FitH null] >>",
                  b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                  b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
                  b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(page_data), page_data))
    assert store_attachment(upload("report.pdf", content), sender_user).size == len(content)


def test_it_refuses_a_pdf_with_a_zip_hidden_inside(sender_user):
    polyglot = PDF + zip_bytes({"evil.js": b"alert(1)"})
    assert_refused(sender_user, "doc.pdf", polyglot, "“doc.pdf” has a ZIP archive hidden inside it.")


def test_it_refuses_a_png_header_followed_by_garbage(sender_user):
    assert_refused(sender_user, "fake.png", b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" * 10,
                   "“fake.png” is not a readable image.")


def test_it_refuses_a_truncated_jpeg(sender_user):
    assert_refused(sender_user, "cut.jpg", image_bytes("JPEG", size=(200, 200))[:200],
                   "“cut.jpg” is not a readable image.")


@pytest.mark.parametrize("cut", [13, 40, 200])  # IEND is 12 bytes: each cut reaches the pixels
def test_it_refuses_a_truncated_png(sender_user, cut):
    whole = image_bytes("PNG", size=(300, 200), color=(10, 20, 30), mode="RGB", compress_level=0)
    assert_refused(sender_user, "cut.png", whole[:-cut], "“cut.png” is not a readable image.")


def test_it_refuses_a_truncated_animation(sender_user):
    frames = [Image.new("RGB", (64, 64), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    assert_refused(sender_user, "cut.gif", out.getvalue()[:-60], "“cut.gif” is not a readable image.")


@pytest.mark.parametrize("width,height", [(7_000, 7_000), (100_000, 100_000)])
def test_it_refuses_decompression_bombs(sender_user, width, height):
    assert_refused(sender_user, "bomb.png", png_header_only(width, height),
                   "“bomb.png” has too many pixels to be processed safely (at most 12.5 million).")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header declares another size."""
    data = image_bytes("JPEG", size=(16, 16))
    sof = data.index(b"\xff\xc0") + 5  # marker, length, precision: then height and width
    return data[:sof] + struct.pack(">HH", height, width) + data[sof + 4:]


def test_it_refuses_a_jpeg_too_large_even_at_an_eighth_of_its_size(sender_user):
    assert_refused(sender_user, "huge.jpg", jpeg_claiming(10_000, 8_500),
                   "“huge.jpg” has too many pixels to be processed safely (at most 80 million).")


def test_it_stores_a_large_photo_at_half_its_size(sender_user):
    attachment = store_attachment(upload("big.jpg", image_bytes("JPEG", size=(5000, 4000))), sender_user)
    with Image.open(io.BytesIO(stored_bytes(attachment))) as image:  # 20 MP: over 12.5, decoded at 1/2
        assert (image.format, image.size) == ("JPEG", (2500, 2000))


def test_it_counts_the_pixels_of_every_frame_of_an_animation(sender_user):
    frames = [Image.new("L", (800, 800), 255 * (i % 2)) for i in range(10)]  # 10 × 0.64 MP = 6.4 MP
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    assert_refused(sender_user, "flicker.gif", out.getvalue(),
                   "“flicker.gif” has too many pixels to be processed safely (at most 6 million over all its frames).")


def test_it_refuses_an_office_document_that_expands_to_too_much(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "ATTACHMENT_MAX_BYTES": 20_000}
    bomb = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\x00" * 3_000_000})
    assert len(bomb) < 20_000
    assert_refused(sender_user, "huge.docx", bomb, "“huge.docx” expands to too much data to be checked safely.")


def test_it_refuses_text_with_nul_bytes(sender_user):
    assert_refused(sender_user, "data.csv", b"a,b\n1,\x002\n", "“data.csv” contains binary data, not text.")


def test_it_refuses_text_that_is_not_utf8(sender_user):
    assert_refused(sender_user, "città.txt", "Benvenuti a Forlì".encode("latin-1"),
                   "“città.txt” is not UTF-8 text; save it as UTF-8 and try again.")


# --- stored ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,content,content_type", [
    ("report.pdf", PDF, "application/pdf"),
    ("notes.txt", "Ciao, è tutto pronto.\n".encode(), "text/plain"),
    ("list.csv", b"name,email\nAda,ada@example.com\n", "text/csv"),
    ("letter.docx", docx(), DOCX),
    ("sheet.xlsx", zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}), XLSX),
    ("text.odt", zip_bytes({"mimetype": ODT.encode(), "content.xml": b"<x/>"}), ODT),
    ("calc.ods", zip_bytes({"mimetype": ODS.encode(), "content.xml": b"<x/>"}), ODS),
])
def test_it_stores_documents_unchanged(sender_user, name, content, content_type):
    attachment = store_attachment(upload(name, content), sender_user)
    attachment.refresh_from_db()
    assert (attachment.name, attachment.content_type, attachment.size) == (name, content_type, len(content))
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.uploaded_by == sender_user
    assert stored_bytes(attachment) == content
    assert len(stored_files()) == 1


@pytest.mark.parametrize("name,fmt,content_type", [
    ("a.png", "PNG", "image/png"),
    ("a.jpg", "JPEG", "image/jpeg"),
    ("a.jpeg", "JPEG", "image/jpeg"),
    ("a.gif", "GIF", "image/gif"),
    ("a.webp", "WEBP", "image/webp"),
])
def test_it_stores_images_in_their_own_format(sender_user, name, fmt, content_type):
    attachment = store_attachment(upload(name, image_bytes(fmt)), sender_user)
    data = stored_bytes(attachment)
    assert attachment.content_type == content_type
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == (fmt, (40, 20))


def test_it_strips_exif_from_a_jpeg(sender_user):
    original = jpeg_with_exif()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif()[0x010F] == "Spy Camera Inc."  # the test file really has EXIF
    attachment = store_attachment(upload("holiday.jpg", original), sender_user)
    data = stored_bytes(attachment)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert "exif" not in image.info
        assert dict(image.getexif()) == {}
    assert b"Spy Camera" not in data and b"SecretEditor" not in data


def test_it_stores_a_phone_multi_picture_jpeg_as_a_plain_jpeg(sender_user):
    out = io.BytesIO()
    depth_map = Image.new("RGB", (30, 20), "blue")
    Image.new("RGB", (30, 20), "red").save(out, "MPO", save_all=True, append_images=[depth_map])
    attachment = store_attachment(upload("phone.jpg", out.getvalue()), sender_user)
    with Image.open(io.BytesIO(stored_bytes(attachment))) as image:
        assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (30, 20), 1)
        assert image.getpixel((5, 5))[0] > 200  # the main (red) picture is the one kept


def test_it_keeps_a_photo_upright_when_dropping_its_orientation_tag(sender_user):
    attachment = store_attachment(upload("portrait.jpg", jpeg_with_exif(orientation=6)), sender_user)
    with Image.open(io.BytesIO(stored_bytes(attachment))) as image:
        assert image.size == (20, 40)  # stored 40×20 but tagged "rotate 90°": now really portrait


def test_it_strips_text_chunks_from_a_png_and_keeps_its_pixels(sender_user):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Secret Author")
    original = image_bytes("PNG", mode="RGBA", color=(10, 20, 30, 128), pnginfo=info)
    attachment = store_attachment(upload("logo.png", original), sender_user)
    data = stored_bytes(attachment)
    assert b"Secret Author" not in data
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(data)) as after:
        assert after.info.get("Author") is None
        assert after.tobytes() == before.tobytes()


def test_it_drops_an_archive_appended_to_an_image(sender_user):
    gifar = image_bytes("GIF") + zip_bytes({"Evil.class": b"\xca\xfe\xba\xbe"})
    attachment = store_attachment(upload("avatar.gif", gifar), sender_user)
    data = stored_bytes(attachment)
    assert not zipfile.is_zipfile(io.BytesIO(data))
    assert b"Evil.class" not in data


def test_it_keeps_every_frame_of_an_animated_gif(sender_user):
    frames = [Image.new("RGB", (16, 16), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=120, loop=0,
                   comment=b"made by a secret tool")
    attachment = store_attachment(upload("spin.gif", out.getvalue()), sender_user)
    data = stored_bytes(attachment)
    assert b"secret tool" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.n_frames == 3
        assert image.info["duration"] == 120


@pytest.mark.parametrize("raw", ["C:\\Users\\me\\Desktop\\report.pdf", "../../etc/report.pdf", "/tmp/x/report.pdf"])
def test_it_keeps_only_the_base_name_and_never_uses_it_as_a_path(sender_user, raw):
    attachment = store_attachment(File(io.BytesIO(PDF), name=raw), sender_user)  # a File keeps any name
    assert attachment.name == "report.pdf"
    assert "report" not in attachment.file.name
    [path] = stored_files()
    root = Path(django_settings.STORAGES["attachments"]["OPTIONS"]["location"])
    assert path.resolve().is_relative_to(root.resolve())
