"""One upload never costs more than about 100 MB of memory, whatever its pixels declare:
each file below goes through check_attachment in its own process, which reports how far
its peak memory grew. Big photos are decoded at a smaller scale, other images over the
limit are refused from their header, before a pixel is decoded."""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

MIB = 1024 * 1024
ROTATE_90 = 6  # the EXIF Orientation of a phone held upright


def blank_png(width: int, height: int) -> bytes:
    """A valid, complete RGBA PNG of any size, built row by row without holding its pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    deflate, row, idat = zlib.compressobj(9), b"\x00" * (1 + 4 * width), []
    idat.extend(deflate.compress(row) for _ in range(height))
    idat.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b"")


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def turned() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = ROTATE_90
    return exif.tobytes()


def animation(fmt: str, frames: int, side: int) -> bytes:
    pictures = [Image.new("RGB", (side, side), (40 * i % 256, 90, 200)) for i in range(frames)]
    return saved(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=100)


def measure(tmp_path: Path, *files: tuple[str, bytes]) -> dict:
    """Check `files` at once in a fresh process: {"reports": [{"outcome", "size"}, ...], "cost": bytes}."""
    for name, data in files:
        (tmp_path / name).write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "tests.measure_upload", *(str(tmp_path / n) for n, _ in files)],
                            capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def screen() -> bytes:
    """The largest still image kept at full size, with transparency, and turned as well."""
    return saved(Image.new("RGBA", (3535, 3535), (1, 2, 3, 4)), "PNG", exif=turned())


@pytest.mark.parametrize("name,build,message", [
    # the report's file: a small, valid PNG that declares 49 million pixels
    ("poster.png", lambda: blank_png(7000, 7000),
     "“poster.png” has too many pixels to be processed safely (at most 12.5 million)."),
    ("spin.webp", lambda: animation("WEBP", 2, 2500),
     "“spin.webp” has frames too large to be processed safely (at most 1.5 million pixels each)."),
])
def test_an_image_over_the_limit_is_refused_before_it_is_decoded(tmp_path, name, build, message):
    data = build()
    assert len(data) < 300_000
    measured = measure(tmp_path, (name, data))
    assert measured["reports"] == [{"outcome": message, "size": None}]
    assert measured["cost"] < 5 * MIB


@pytest.mark.parametrize("name,build,size", [
    # 48 MP phone photo held upright: decoded at half size, then turned
    ("phone.jpg", lambda: saved(Image.new("RGB", (8000, 6000), "olive"), "JPEG", exif=turned()), (3000, 4000)),
    ("screen.png", screen, (3535, 3535)),
    # progressive JPEGs hold every coefficient of the full image while they decode
    ("web.jpg", lambda: saved(Image.new("RGB", (4096, 3072), "navy"), "JPEG", progressive=True, subsampling=0),
     (2048, 1536)),
    ("large-web.jpg", lambda: saved(Image.new("RGB", (6000, 4500), "navy"), "JPEG", progressive=True, subsampling=2),
     (1500, 1125)),
    # animations hold every frame, and their encoders copy them again
    ("spin.png", lambda: animation("PNG", 4, 1224), (1224, 1224)),
    ("spin.webp", lambda: animation("WEBP", 4, 1224), (1224, 1224)),
])
def test_an_accepted_image_costs_at_most_100_mb_to_check(tmp_path, name, build, size):
    measured = measure(tmp_path, (name, build()))
    assert measured["reports"] == [{"outcome": "accepted", "size": list(size)}]
    assert measured["cost"] < 100 * MIB


def test_concurrent_uploads_take_turns_instead_of_adding_up(tmp_path):
    measured = measure(tmp_path, *((f"screen-{i}.png", screen()) for i in range(3)))
    assert measured["reports"] == [{"outcome": "accepted", "size": [3535, 3535]}] * 3
    assert measured["cost"] < 100 * MIB
