"""Private attachments: who may read a file, and how it is handed over.

Files live in the private `attachments` storage and have no public URL. A person may read
a file when it travels with a stored message they received; staff when they may see a
broadcast carrying it (views/access.py). Images are shown inline, everything else is a
download; thumbnails are made once and kept in the same storage. With
`SENDER["ATTACHMENT_SENDFILE"]` the web server sends the bytes (X-Accel-Redirect or
X-Sendfile) after Django has checked access; whitenoise never sees uploads.
"""

import io
from urllib.parse import quote

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from PIL import Image

from sender.access import visible_attachments
from sender.conf import sender_settings
from sender.images import TooManyPixels, decode_bounded
from sender.inbox.messages import find_message
from sender.inbox.people import Records
from sender.models import MessageAttachment, attachment_storage

INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
THUMBNAIL_SIZE = (160, 160)
THUMBNAIL_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP")  # what uploads may hold


def readable_attachment(user: AbstractBaseUser, records: Records, sent_id: int, pk: int) -> MessageAttachment | None:
    """The attachment if it travels with stored message `sent_id` that reached `records`,
    or if `user` is staff allowed to see it; None otherwise (the view answers 404)."""
    message = find_message(records, sent_id)
    if message is not None:
        for attachment in message.broadcast.attachments.all():
            if attachment.pk == pk:
                return attachment
    return visible_attachments(user).filter(pk=pk, broadcast__sents=sent_id).distinct().first()


def file_response(attachment: MessageAttachment, *, inline: bool | None = None) -> HttpResponseBase:
    """The file with its type and name; inline for images unless told otherwise."""
    if inline is None:
        inline = attachment.content_type in INLINE_TYPES
    sendfile = sender_settings.ATTACHMENT_SENDFILE
    if sendfile:
        response: HttpResponseBase = HttpResponse(content_type=attachment.content_type)
        response["Content-Disposition"] = content_disposition_header(not inline, attachment.name)
        response[sendfile["HEADER"]] = _sendfile_target(attachment.file.name, sendfile)
    else:
        response = FileResponse(attachment.file.open("rb"), as_attachment=not inline, filename=attachment.name,
                                content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _sendfile_target(name: str, sendfile: dict) -> str:
    header = sendfile.get("HEADER", "")
    if header.lower() == "x-accel-redirect":
        return sendfile.get("PREFIX", "/_attachments/").rstrip("/") + "/" + quote(name)
    if header.lower() == "x-sendfile":
        return attachment_storage().path(name)
    raise ImproperlyConfigured(f'SENDER["ATTACHMENT_SENDFILE"]["HEADER"] must be X-Accel-Redirect or X-Sendfile, not {header!r}.')


def thumbnail_name(attachment: MessageAttachment) -> str:
    return f"thumbnails/{attachment.pk}-{attachment.sha256[:16]}.jpg"


def thumbnail(attachment: MessageAttachment) -> str:
    """The storage name of the attachment's thumbnail, made on first request and then kept.

    Raises Http404 when the stored file cannot be thumbnailed within the memory bound of
    sender.images (an image stored before that bound, or damaged on disk)."""
    storage, name = attachment_storage(), thumbnail_name(attachment)
    if storage.exists(name):
        return name
    try:
        with attachment.file.open("rb") as f:
            data = decode_bounded(f, THUMBNAIL_FORMATS, _thumbnail_bytes)
    except (TooManyPixels, OSError, ValueError, SyntaxError):  # what Pillow raises for damaged files
        raise Http404 from None
    saved = storage.save(name, ContentFile(data))
    if saved != name:  # another request made it at the same moment; keep theirs
        storage.delete(saved)
    return name


def _thumbnail_bytes(image: Image.Image) -> bytes:
    image.thumbnail(THUMBNAIL_SIZE)  # a JPEG is decoded at the smallest scale that will do
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def thumbnail_response(attachment: MessageAttachment) -> HttpResponseBase:
    name = thumbnail(attachment)
    sendfile = sender_settings.ATTACHMENT_SENDFILE
    if sendfile:
        response: HttpResponseBase = HttpResponse(content_type="image/jpeg")
        response[sendfile["HEADER"]] = _sendfile_target(name, sendfile)
    else:
        response = FileResponse(attachment_storage().open(name, "rb"), content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
