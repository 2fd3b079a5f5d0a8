"""Decoding untrusted images within a memory bound.

A 208 KB PNG may declare 49 million pixels, and Pillow keeps up to 4 bytes a pixel: one
upload could cost half a gigabyte once decoded and copied. So every image Sender decodes
(uploads, thumbnails) goes through `decode_bounded`: the size is checked from the header
before any pixel is decoded, a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size
(libjpeg's `draft`, nearly free) when that brings it within the limit, and anything else
over the limit is refused. The work runs in one thread per process, so concurrent uploads
take turns instead of adding up, and the memory malloc keeps after one image (per thread)
serves the next. A truncated image is never completed with grey: Pillow's
`LOAD_TRUNCATED_IMAGES` stays off and decoding it raises.
"""

import math
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, TypeVar

from PIL import Image

MAX_PIXELS = 12_500_000  # every frame, as decoded: a 12 MP phone photo fits, 48 and 50 MP ones at half size
BYTES_PER_PIXEL = 4  # Pillow stores RGB, RGBA, CMYK, LA and I pixels in 4 bytes
MEMORY_BUDGET = 2 * BYTES_PER_PIXEL * MAX_PIXELS  # the pixels plus one copy in flight: 100 MB
# An animation holds all its frames, and its encoder copies them again (APNG keeps a copy of
# each, and compares each frame with the last): animations and their frames are kept smaller.
MAX_ANIMATION_PIXELS = 6_000_000
MAX_FRAME_PIXELS = 1_500_000
JPEG_MAX_PIXELS = 80_000_000  # before `draft`; beyond, even 1/8 of it is a bomb rather than a photo
JPEG_FORMATS = {"JPEG", "MPO"}

T = TypeVar("T")
_decoder: tuple[int, ThreadPoolExecutor] | None = None  # (process id, its one image thread)


class TooManyPixels(Exception):
    """The image would cost more memory to decode than we allow: `limit` pixels for the
    `scope`, one of "image", "animation" (every frame counted) or "frame" (each frame)."""

    def __init__(self, limit: int, scope: str = "image") -> None:
        super().__init__(limit, scope)
        self.limit, self.scope = limit, scope


def decode_bounded(fp: BinaryIO, formats: list[str] | tuple[str, ...], work: Callable[[Image.Image], T]) -> T:
    """`work(image)` for the image in `fp`, its header read and checked, set up so that
    decoding it stays within MEMORY_BUDGET, run in the process's one image thread.

    Raises TooManyPixels (also for Pillow's own bomb check), what Pillow raises for a file
    that is not one of `formats`, damaged or truncated, and whatever `work` raises.
    """
    return _image_thread().submit(_open_and_work, fp, list(formats), work).result()


def _image_thread() -> ThreadPoolExecutor:
    global _decoder
    if _decoder is None or _decoder[0] != os.getpid():  # a forked worker needs its own thread
        _decoder = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="sender-images"))
    return _decoder[1]


def _open_and_work(fp: BinaryIO, formats: list[str], work: Callable[[Image.Image], T]) -> T:
    with warnings.catch_warnings():  # only this thread decodes images, so the filter is ours
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fp, formats=formats) as image:
                _fit(image)
                return work(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooManyPixels(MAX_PIXELS) from None


def _fit(image: Image.Image) -> None:
    """Refuse an image too large to decode, or tell a large JPEG to decode at a smaller scale."""
    if image.format in JPEG_FORMATS:  # only the main picture of a multi-picture JPEG is decoded
        _draft_jpeg(image)
        return
    frames, pixels = getattr(image, "n_frames", 1), image.width * image.height
    if frames == 1 and pixels > MAX_PIXELS:
        raise TooManyPixels(MAX_PIXELS)
    if frames > 1 and pixels > MAX_FRAME_PIXELS:
        raise TooManyPixels(MAX_FRAME_PIXELS, "frame")
    if frames > 1 and frames * pixels > MAX_ANIMATION_PIXELS:
        raise TooManyPixels(MAX_ANIMATION_PIXELS, "animation")


def _draft_jpeg(image: Image.Image) -> None:
    width, height = image.size
    if width * height > JPEG_MAX_PIXELS:
        raise TooManyPixels(JPEG_MAX_PIXELS)
    # A progressive JPEG keeps every DCT coefficient of the full-size image while it decodes,
    # whatever the scale: 2 bytes a coefficient, fewer for subsampled colour.
    coefficients = _coefficient_bytes(image) if image.info.get("progressive") else 0
    for scale in (1, 2, 4, 8):
        size = (math.ceil(width / scale), math.ceil(height / scale))
        decoded = size[0] * size[1]
        if decoded <= MAX_PIXELS and coefficients + BYTES_PER_PIXEL * decoded <= MEMORY_BUDGET:
            if scale > 1:
                image.draft(image.mode, size)
            return
    per_pixel = coefficients / (width * height) + BYTES_PER_PIXEL / 64
    raise TooManyPixels(min(JPEG_MAX_PIXELS, int(MEMORY_BUDGET / per_pixel)))


def _coefficient_bytes(image: Image.Image) -> int:
    """What libjpeg holds for a progressive JPEG: 2 bytes for each pixel of each component,
    components subsampled by their sampling factors (4:2:0 colour costs 3 bytes a pixel),
    plus a tenth for its padding and work buffers (measured: up to 7 MB at 32 MP)."""
    layers = getattr(image, "layer", None) or []  # (id, horizontal, vertical sampling, table)
    if layers:
        h_max, v_max = max(layer[1] for layer in layers), max(layer[2] for layer in layers)
        components = sum(layer[1] * layer[2] for layer in layers) / (h_max * v_max)
    else:
        components = 4  # unknown: assume four full-size components
    return int(1.1 * 2 * components * image.width * image.height)
