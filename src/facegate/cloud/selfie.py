"""The cloud manual's selfie rules, checked from the file's header before any pixel is decoded.

JPG, BMP, PNG, GIF or TIFF; width and height more than 8 and at most 4000 px; at most 5 MB.
Orientation (EXIF first, then the face's own when ``selfie_auto_rotate`` is on) and the choice
of the largest face happen in the inference engine, as for every other photo.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from facegate.cloud.errors import CloudError, Status
from facegate.core.media import sniff_format

MAX_SELFIE_BYTES = 5 * 1024 * 1024
MIN_SIDE_EXCLUSIVE = 8
MAX_SIDE = 4000
FORMATS = frozenset({"JPEG", "BMP", "PNG", "GIF", "TIFF"})


def check_selfie(data: bytes, field: str) -> None:
    if not data:
        raise CloudError(Status.CORRUPT_IMAGE, "the file is empty", image=field)
    if len(data) > MAX_SELFIE_BYTES:
        raise CloudError(
            Status.IMAGE_FILE_SIZE_TOO_BIG,
            f"the selfie is {len(data)} bytes; at most {MAX_SELFIE_BYTES} (5 MB) are accepted",
            image=field,
        )
    # The same probe as the SenseID endpoints (so a phone's MPO, a JPEG with a second picture
    # inside, is a JPEG here too), then the header only for the size.
    fmt = sniff_format(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Without a known signature Pillow tries every format it has, so that a real image
            # in a format we do not take is told apart from a file that is no image at all.
            with Image.open(io.BytesIO(data), formats=[fmt] if fmt else None) as img:
                found, (width, height) = img.format or "", img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise CloudError(
            Status.CORRUPT_IMAGE, "the file is not an image or is damaged", image=field
        ) from None
    fmt = fmt or found
    if fmt not in FORMATS:
        raise CloudError(
            Status.INVALID_IMAGE_FORMAT_OR_SIZE,
            f"{fmt} images are not accepted: send JPG, BMP, PNG, GIF or TIFF",
            image=field,
        )
    if not (MIN_SIDE_EXCLUSIVE < width <= MAX_SIDE and MIN_SIDE_EXCLUSIVE < height <= MAX_SIDE):
        raise CloudError(
            Status.INVALID_IMAGE_FORMAT_OR_SIZE,
            f"the selfie is {width}×{height} px; width and height must be more than "
            f"{MIN_SIDE_EXCLUSIVE} and at most {MAX_SIDE} px",
            image=field,
        )
