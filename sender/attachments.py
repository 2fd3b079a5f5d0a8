"""Attachments: checked, cleaned and stored privately before any broadcast may carry them.

A file is trusted for nothing: its name is reduced to a base name, its extension must be
on the allow-list, its content must be what the extension promises (magic bytes, the
members of an office archive, UTF-8 text), images are re-encoded from their pixels so no
EXIF/GPS or other metadata leaves the building, and nothing is written unless every
check passes.
"""

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat, floatformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps, ImageSequence

from sender.active_content import TooMuchToScan, office_has_macros, pdf_active_names
from sender.conf import sender_settings
from sender.images import TooManyPixels, decode_bounded
from sender.models import MessageAttachment

NAME_MAX = MessageAttachment._meta.get_field("name").max_length
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_RATIO = 100  # uncompressed office documents may be at most 100× the upload limit
SAME_FORMAT = {"JPEG": {"JPEG", "MPO"}}  # phones write multi-picture JPEGs; we keep the main picture
ANIMATED = {"GIF", "WEBP", "PNG"}


@dataclass(frozen=True)
class Kind:
    content_type: str
    magic: str | None  # the family `sniff` must find; None for text
    member: str | None = None  # the archive member an office document must contain
    odf_mimetype: bytes | None = None  # the exact content of an OpenDocument's "mimetype" member
    image_format: str | None = None  # Pillow's name for the format, for images


OOXML = "application/vnd.openxmlformats-officedocument."
ODF = "application/vnd.oasis.opendocument."
KINDS: dict[str, Kind] = {
    "pdf": Kind("application/pdf", "pdf"),
    "png": Kind("image/png", "png", image_format="PNG"),
    "jpg": Kind("image/jpeg", "jpeg", image_format="JPEG"),
    "jpeg": Kind("image/jpeg", "jpeg", image_format="JPEG"),
    "gif": Kind("image/gif", "gif", image_format="GIF"),
    "webp": Kind("image/webp", "webp", image_format="WEBP"),
    "mp3": Kind("audio/mpeg", "mp3"),
    "mp4": Kind("video/mp4", "mp4"),
    "txt": Kind("text/plain", None),
    "csv": Kind("text/csv", None),
    "docx": Kind(OOXML + "wordprocessingml.document", "zip", member="word/document.xml"),
    "xlsx": Kind(OOXML + "spreadsheetml.sheet", "zip", member="xl/workbook.xml"),
    "odt": Kind(ODF + "text", "zip", member="mimetype", odf_mimetype=(ODF + "text").encode()),
    "ods": Kind(ODF + "spreadsheet", "zip", member="mimetype", odf_mimetype=(ODF + "spreadsheet").encode()),
}
FAMILY_LABELS = {
    "pdf": gettext_lazy("a PDF document"), "png": gettext_lazy("a PNG image"), "jpeg": gettext_lazy("a JPEG image"),
    "gif": gettext_lazy("a GIF image"), "webp": gettext_lazy("a WebP image"), "zip": gettext_lazy("a ZIP archive"),
    "mp3": gettext_lazy("MP3 audio"), "mp4": gettext_lazy("an MP4 video"),
    None: gettext_lazy("text or unrecognised data"),
}


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, with its metadata stripped, not yet written anywhere."""

    name: str
    ext: str
    content_type: str
    data: bytes


def store_attachment(upload: File, user: AbstractBaseUser) -> MessageAttachment:
    """Check `upload`, strip its metadata and save it to private storage.

    Raises ValidationError with one sentence a user can act on, and writes nothing, if
    the file is empty, too large, of a type not allowed, or not what its name claims.
    """
    return save_checked(check_attachment(upload), user)


def check_attachment(upload: File) -> CheckedFile:
    """Every check of store_attachment, writing nothing: for previews and dry runs."""
    name = clean_name(upload.name)
    ext = check_extension(name)
    data = read_limited(upload, name)
    kind = KINDS[ext]
    check_magic(data, name, ext, kind)
    if kind.image_format:
        data = clean_image(data, name, kind.image_format)
    elif kind.member:
        check_office(data, name, ext, kind)
    elif kind.magic in {"pdf", "mp3", "mp4"}:
        check_no_hidden_archive(data, name)
        check_pdf_active_content(data, name)
    else:
        check_text(data, name)  # a ZIP hidden in text would need NUL bytes, which this refuses
    return CheckedFile(name, ext, kind.content_type, data)


def clean_name(raw: str | None) -> str:
    """The base name only: a client may send "C:\\Users\\me\\cv.pdf" or "../../etc/x"."""
    name = "".join(ch for ch in PurePosixPath(str(raw or "").replace("\\", "/")).name if ch.isprintable()).strip()
    if not name or name in {".", ".."}:
        raise ValidationError(_("The file has no name."), code="no_name")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = stem[: NAME_MAX - len(ext) - 1] + dot + ext if dot and len(ext) < 16 else name[:NAME_MAX]
    return name


def check_extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower() if dot and stem else ""
    if ext not in KINDS:
        raise ValidationError(_("“%(name)s” cannot be attached: allowed file types are %(allowed)s.")
                              % {"name": name, "allowed": ", ".join(sorted(KINDS))}, code="extension")
    return ext


def read_limited(upload: File, name: str) -> bytes:
    """Read at most the limit plus one byte, so a lying `size` cannot make us read more."""
    limit = sender_settings.ATTACHMENT_MAX_BYTES
    declared = getattr(upload, "size", None) or 0
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1) if declared <= limit else b""
    if declared > limit or len(data) > limit:
        size = filesizeformat(declared) if declared > limit else _("more than that")
        raise ValidationError(_("“%(name)s” is too large (%(size)s); attachments may be at most %(max)s.")
                              % {"name": name, "size": size, "max": filesizeformat(limit)}, code="too_large")
    if not data:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name}, code="empty")
    return data


MAGIC = [(b"%PDF-", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"),
         (b"GIF89a", "gif"), (b"PK\x03\x04", "zip")]


def sniff(data: bytes) -> str | None:
    """The binary family the first bytes announce, or None (text, or nothing we know)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":  # ISO media: MP4 and its kin
        return "mp4"
    found = next((family for magic, family in MAGIC if data.startswith(magic)), None)
    mpeg_frame = len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 in {0xE2, 0xE4, 0xE6}  # sync, layer I-III
    if found is None and (data.startswith(b"ID3") or mpeg_frame):
        return "mp3"
    return found


def check_magic(data: bytes, name: str, ext: str, kind: Kind) -> None:
    found = sniff(data)
    if found != kind.magic:
        raise ValidationError(_("“%(name)s” is not what its .%(ext)s extension promises: its content is %(found)s.")
                              % {"name": name, "ext": ext, "found": FAMILY_LABELS[found]}, code="mismatch")


def check_text(data: bytes, name: str) -> None:
    if b"\x00" in data:
        raise ValidationError(_("“%(name)s” contains binary data, not text.") % {"name": name}, code="binary")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(_("“%(name)s” is not UTF-8 text; save it as UTF-8 and try again.") % {"name": name},
                              code="encoding") from None


def check_no_hidden_archive(data: bytes, name: str) -> None:
    """A PDF that is also a ZIP (a polyglot) could smuggle anything past us."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise ValidationError(_("“%(name)s” has a ZIP archive hidden inside it.") % {"name": name}, code="polyglot")


def check_pdf_active_content(data: bytes, name: str) -> None:
    """Scripts, launch actions and embedded files run or unpack when the PDF is opened."""
    try:
        found = pdf_active_names(data, ZIP_MAX_RATIO * sender_settings.ATTACHMENT_MAX_BYTES)
    except TooMuchToScan:
        raise ValidationError(_("“%(name)s” expands to too much data to be checked safely.") % {"name": name},
                              code="zip_bomb") from None
    if found:
        names = ", ".join(f"/{n}" for n in sorted(found))
        raise ValidationError(_("“%(name)s” contains scripts, launch actions or embedded files (%(found)s), "
                                "which cannot be attached.") % {"name": name, "found": names}, code="pdf_active")


def check_office(data: bytes, name: str, ext: str, kind: Kind) -> None:
    """An office document is a ZIP that must hold its format's member, read without unpacking."""
    not_a_document = _("“%(name)s” is a ZIP archive, not a real .%(ext)s document.") % {"name": name, "ext": ext}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            expanded = sum(m.file_size for m in members)
            if len(members) > ZIP_MAX_MEMBERS or expanded > ZIP_MAX_RATIO * sender_settings.ATTACHMENT_MAX_BYTES:
                raise ValidationError(_("“%(name)s” expands to too much data to be checked safely.") % {"name": name},
                                      code="zip_bomb")
            names = {m.filename for m in members}
            wrong_odf = kind.member in names and kind.odf_mimetype and archive.read(kind.member) != kind.odf_mimetype
            if kind.member not in names or wrong_odf:
                raise ValidationError(not_a_document, code="mismatch")
            if office_has_macros(archive, odf=bool(kind.odf_mimetype)):
                raise ValidationError(_("“%(name)s” contains macros, which cannot be attached.") % {"name": name},
                                      code="macros")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError):
        raise ValidationError(_("“%(name)s” is damaged: its archive cannot be read.") % {"name": name},
                              code="damaged") from None


def clean_image(data: bytes, name: str, image_format: str) -> bytes:
    """Open and verify the image, refuse bombs and truncated files, and re-encode its pixels
    without metadata, within the memory bound of sender.images."""
    unreadable = ValidationError(_("“%(name)s” is not a readable image.") % {"name": name}, code="unreadable")
    formats = SAME_FORMAT.get(image_format, {image_format})
    try:
        decode_bounded(io.BytesIO(data), sorted(formats), lambda image: image.verify())  # checksums first
        return decode_bounded(io.BytesIO(data), sorted(formats), lambda image: _reencode(image, image_format))
    except TooManyPixels as too_many:
        message = {
            "image": _("“%(name)s” has too many pixels to be processed safely (at most %(max)s million)."),
            "animation": _("“%(name)s” has too many pixels to be processed safely "
                           "(at most %(max)s million over all its frames)."),
            "frame": _("“%(name)s” has frames too large to be processed safely (at most %(max)s million pixels each)."),
        }[too_many.scope]
        raise ValidationError(message % {"name": name, "max": floatformat(too_many.limit / 1_000_000, -1)},
                              code="too_many_pixels") from None
    except Exception:  # Pillow reports broken and truncated files with many exception types
        raise unreadable from None


def _reencode(image: Image.Image, image_format: str) -> bytes:
    """Copy the pixels into fresh images: Image.info (EXIF, XMP, ICC, comments) stays behind.

    Each step lets go of the pixels it copied from, so a still image never holds more than
    two copies at once (sender.images.MEMORY_BUDGET)."""
    loop = image.info.get("loop", 0)
    if image_format in ANIMATED and getattr(image, "n_frames", 1) > 1:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            upright = ImageOps.exif_transpose(frame)  # a copy, which _bare lets go of
            frames.append(_bare(upright))
            durations.append(frame.info.get("duration", 0))
        options = {"save_all": True, "append_images": frames[1:], "duration": durations, "loop": loop}
    else:
        image.load()  # the whole file now: a truncated one raises here
        ImageOps.exif_transpose(image, in_place=True)  # keep the photo upright once Orientation is gone
        frames, options = [_bare(image)], {}
    out = io.BytesIO()
    options.update({"JPEG": {"quality": 90}, "WEBP": {"quality": 90}}.get(image_format, {}))
    frames[0].save(out, format=image_format, **options)
    return out.getvalue()


def _bare(image: Image.Image) -> Image.Image:
    """The pixels of `image` in a new image with no metadata; `image` is closed."""
    if image.mode in ("P", "PA"):
        converted = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
        image.close()
        image = converted
    bare = Image.new(image.mode, image.size)
    bare.paste(image)
    image.close()
    return bare


def save_checked(checked: CheckedFile, user: AbstractBaseUser) -> MessageAttachment:
    """Stored under a random name: the user's name is kept in the row, never used as a path."""
    attachment = MessageAttachment(name=checked.name, content_type=checked.content_type, size=len(checked.data),
                                   sha256=hashlib.sha256(checked.data).hexdigest(), uploaded_by=user)
    attachment.file.save(f"{uuid.uuid4().hex}.{checked.ext}", ContentFile(checked.data), save=False)
    try:
        attachment.save()
    except Exception:  # whatever kept the row from being saved, its file goes too; the error goes on
        attachment.file.delete(save=False)
        raise
    return attachment
