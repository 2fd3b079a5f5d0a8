"""Files the fake Telegram receives: stored once with a stable file id, photos checked the
way Telegram checks them, documents re-typed the way Telegram re-types them."""

import hashlib
import io
import mimetypes
import secrets
from typing import Any

from PIL import Image, UnidentifiedImageError

from sender.dev.sandbox.telegram.errors import ApiError

PHOTO_MAX_SIDES, PHOTO_MAX_RATIO = 10_000, 20
PHOTO_MAX_BYTES = 10 * 1024 * 1024


class Files:
    """file_id -> {file_id, unique, data, name, mime, path, kind}; the caller holds the lock."""

    def __init__(self):
        self.by_id: dict[str, dict[str, Any]] = {}
        self.uploads = 0  # files received as bytes

    def take(self, params: dict[str, Any], files: dict[str, dict], field: str, default_mime: str) -> dict:
        """The file a send call names in `field`: uploaded bytes (stored now) or a file id."""
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
        if value is None:
            value = files.get(field)
        if isinstance(value, dict):  # bytes uploaded in this request
            mime = value["content_type"] or ""
            if mime in {"", "application/octet-stream"} and value["filename"]:
                mime = mimetypes.guess_type(value["filename"])[0] or mime
            return self.store(value["data"], value["filename"] or field, mime or default_mime)
        if isinstance(value, str) and value in self.by_id:
            stored = self.by_id[value]
            if (field == "photo") != (stored["kind"] == "photo"):
                raise ApiError(400, "Bad Request: type of file mismatch")
            return stored
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def store(self, data: bytes, name: str, mime: str) -> dict:
        self.uploads += 1
        digest = hashlib.sha256(data).hexdigest()
        file_id = f"BQAC{digest[:20]}{secrets.token_hex(6)}"
        stored = {"file_id": file_id, "unique": f"AgAD{digest[:12]}", "data": data, "name": name, "mime": mime,
                  "path": f"files/file_{len(self.by_id)}", "kind": "document", "size": None}
        self.by_id[file_id] = stored
        return stored

    def bytes_at(self, path: str) -> bytes | None:
        return next((f["data"] for f in self.by_id.values() if f["path"] == path), None)


def check_photo(stored: dict) -> tuple[int, int]:
    """Width and height of an uploaded photo, or Telegram's refusal: not an image, too
    large, or outside the dimension rules (width + height <= 10,000, ratio <= 20)."""
    if stored["size"]:
        return stored["size"]
    if len(stored["data"]) > PHOTO_MAX_BYTES:
        raise ApiError(400, "Bad Request: file is too big")  # wording unconfirmed
    try:
        with Image.open(io.BytesIO(stored["data"])) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
    if width + height > PHOTO_MAX_SIDES or max(width, height) > PHOTO_MAX_RATIO * min(width, height):
        raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    stored["kind"], stored["size"] = "photo", (width, height)
    return width, height


def photo_sizes(stored: dict) -> list[dict]:
    """The PhotoSize list Telegram answers with: a thumbnail, then the full size (last)."""
    width, height = stored["size"]
    scale = min(1.0, 90 / max(width, height))
    small = {"file_id": stored["file_id"] + "_s", "file_unique_id": stored["unique"] + "s",
             "width": max(1, round(width * scale)), "height": max(1, round(height * scale)), "file_size": 1000}
    return [small, {"file_id": stored["file_id"], "file_unique_id": stored["unique"], "width": width,
                    "height": height, "file_size": len(stored["data"])}]


def document_fields(stored: dict, detect: bool) -> dict[str, Any]:
    """What a sendDocument answer carries. Unless content type detection is disabled,
    Telegram makes an audio file an `audio` and a video a `video` (no `document` left), and
    a GIF an `animation` (which keeps `document` beside it)."""
    common = {"file_id": stored["file_id"], "file_unique_id": stored["unique"], "file_name": stored["name"],
              "mime_type": stored["mime"], "file_size": len(stored["data"])}
    mime = stored["mime"]
    if detect and mime.startswith("audio/"):
        return {"audio": {**common, "duration": 1}}
    if detect and mime.startswith("video/"):
        return {"video": {**common, "width": 640, "height": 360, "duration": 1}}
    if detect and mime == "image/gif":
        return {"animation": {**common, "width": 64, "height": 64, "duration": 1}, "document": common}
    return {"document": common}
