"""Bytes → pixels for photos, with the manual's limits checked before any full decode.

Order matters for safety: the size in bytes is checked first, then the type by magic bytes,
then the dimensions from the header alone, and only then are pixels decoded. A 6000×6000 or
decompression-bomb image is therefore refused without allocating its pixels.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegate.core.errors import Code, ImageError
from facegate.core.limits import ImageLimits
from facegate.core.types import ImageArray

# Pillow's own bomb guard would raise a warning-turned-error on legitimate 5000×5000 photos; our
# own dimension check runs first and is stricter, so Pillow's is redundant.
Image.MAX_IMAGE_PIXELS = None

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    pixels: ImageArray  # BGR, EXIF orientation applied
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def sniff_format(data: bytes) -> str | None:
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def decode_image(
    data: bytes,
    limits: ImageLimits | None = None,
    *,
    corrupt_code: Code = Code.INVALID_IMAGE_TYPE,
) -> DecodedImage:
    """Validate and decode a photo. ``corrupt_code`` is 2006 on the endpoint whose manual lists
    "corrupted image error" separately from 2005, and 2005 elsewhere."""
    limits = limits or ImageLimits()
    if not data:
        raise ImageError(Code.INVALID_CONTENT_LENGTH, "the image file is empty")
    if len(data) > limits.max_bytes:
        raise ImageError(
            Code.INVALID_CONTENT_LENGTH,
            f"the image file is {len(data)} bytes, more than the limit of {limits.max_bytes}",
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError(
            Code.INVALID_IMAGE_TYPE, "the file is not a JPEG, PNG, BMP, GIF or TIFF image"
        )
    if fmt == "JPEG":
        # Each scan starts with an SOS marker, which entropy-coded data cannot contain (a 0xFF
        # there is followed by 0x00): counting them bounds the decoding work before it starts.
        scans = data.count(b"\xff\xda")
        if scans > limits.max_scans:
            raise ImageError(
                corrupt_code,
                f"the JPEG has {scans} scans, more than the {limits.max_scans} a photo needs",
            )
    side = limits.max_output_side
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd-but-readable EXIF and palettes.
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            _check_dimensions(width, height, limits)
            if side is not None and max(width, height) > side and fmt == "JPEG":
                # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, to at least this size.
                scale = side / max(width, height)
                img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(corrupt_code, f"the {fmt} data is corrupt or truncated") from exc
    array = np.asarray(rgb)
    if side is not None and max(array.shape[:2]) > side:
        scale = side / max(array.shape[:2])
        size = (max(1, round(array.shape[1] * scale)), max(1, round(array.shape[0] * scale)))
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
    pixels = np.asarray(cv2.cvtColor(array, cv2.COLOR_RGB2BGR), dtype=np.uint8)
    return DecodedImage(pixels=pixels, format=fmt)


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if not (limits.min_side <= width <= limits.max_side) or not (
        limits.min_side <= height <= limits.max_side
    ):
        raise ImageError(
            Code.INVALID_IMAGE_SIZE,
            f"the image is {width}×{height} px; width and height must be "
            f"{limits.min_side} … {limits.max_side} px",
        )
