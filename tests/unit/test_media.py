from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facegate.core.errors import Code, ImageError
from facegate.core.limits import ImageLimits
from facegate.core.media import decode_image, sniff_format
from tests.conftest import encode

RNG = np.random.default_rng(0)


def picture(w: int, h: int) -> Image.Image:
    return Image.fromarray(RNG.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("JPEG", "JPEG"), ("PNG", "PNG"), ("BMP", "BMP"), ("GIF", "GIF"), ("TIFF", "TIFF")],
)
def test_every_manual_format_decodes_to_bgr(fmt: str, name: str) -> None:
    img = Image.new("RGB", (64, 48), (255, 0, 0))  # pure red
    decoded = decode_image(encode(img, fmt))
    assert decoded.format == name
    assert (decoded.width, decoded.height) == (64, 48)
    b, g, r = decoded.pixels[10, 10].tolist()
    assert r > 200
    assert b < 60
    assert g < 60


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (80, 40), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert (decoded.width, decoded.height) == (40, 80)


@pytest.mark.parametrize(("w", "h"), [(16, 16), (31, 100), (6000, 100), (100, 5001)])
def test_dimensions_out_of_range_are_2003(w: int, h: int) -> None:
    data = encode(Image.new("L", (w, h)), "PNG")
    with pytest.raises(ImageError) as info:
        decode_image(data)
    assert info.value.code is Code.INVALID_IMAGE_SIZE
    assert f"{w}×{h}" in info.value.detail


def test_6000x6000_is_refused_from_the_header_without_decoding() -> None:
    # A 6000×6000 PNG of zeros compresses to ~100 kB; decoding it would take 108 MB.
    data = encode(Image.new("RGB", (6000, 6000)), "PNG")
    assert len(data) < 1_000_000
    with pytest.raises(ImageError) as info:
        decode_image(data)
    assert info.value.code is Code.INVALID_IMAGE_SIZE


def test_limits_edges_are_inclusive() -> None:
    assert decode_image(encode(Image.new("RGB", (32, 5000)), "PNG")).height == 5000


def test_empty_and_oversized_are_2004() -> None:
    with pytest.raises(ImageError) as info:
        decode_image(b"")
    assert info.value.code is Code.INVALID_CONTENT_LENGTH
    big = encode(picture(1500, 1400), "PNG")
    assert len(big) > 5 * 1024 * 1024
    with pytest.raises(ImageError) as info:
        decode_image(big)
    assert info.value.code is Code.INVALID_CONTENT_LENGTH
    assert decode_image(big, ImageLimits(max_bytes=10 * 1024 * 1024)).width == 1500


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n" * 10,
        b"%PDF-1.4 something",
        b"\x00" * 100,
        b"RIFF....WEBPVP8 ",
    ],
)
def test_not_an_accepted_type_is_2005(data: bytes) -> None:
    with pytest.raises(ImageError) as info:
        decode_image(data)
    assert info.value.code is Code.INVALID_IMAGE_TYPE


def test_corrupt_jpeg_is_2005_or_the_endpoint_code() -> None:
    good = encode(picture(200, 200), "JPEG")
    truncated = good[: len(good) // 2]
    garbage_body = good[:20] + bytes(RNG.integers(0, 255, 2000, dtype=np.uint8))
    for data in (truncated, garbage_body):
        with pytest.raises(ImageError) as info:
            decode_image(data)
        assert info.value.code is Code.INVALID_IMAGE_TYPE
        with pytest.raises(ImageError) as info:
            decode_image(data, corrupt_code=Code.CORRUPTED_IMAGE)
        assert info.value.code is Code.CORRUPTED_IMAGE


def test_sniff_by_bytes_not_by_name() -> None:
    assert sniff_format(encode(Image.new("RGB", (8, 8)), "PNG")) == "PNG"
    assert sniff_format(b"GIF89a....") == "GIF"
    assert sniff_format(b"<html>") is None


def test_palette_and_alpha_images_decode() -> None:
    rgba = Image.new("RGBA", (50, 50), (10, 20, 30, 0))
    assert decode_image(encode(rgba, "PNG")).pixels.shape == (50, 50, 3)
    pal = Image.new("P", (50, 50))
    assert decode_image(encode(pal, "GIF")).pixels.shape == (50, 50, 3)
    buf = io.BytesIO()
    Image.new("I;16", (40, 40)).save(buf, format="TIFF")
    assert decode_image(buf.getvalue()).pixels.shape == (40, 40, 3)


def progressive(repeat_last_scan: int = 0) -> bytes:
    rng = np.random.default_rng(11)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(
        buf, format="JPEG", progressive=True, quality=90
    )
    data = buf.getvalue()
    last = data.rindex(b"\xff\xda")
    # The repro: the last scan again and again (each pass re-decodes the whole image).
    return data[:last] + data[last:-2] * (1 + repeat_last_scan) + data[-2:]


def test_a_jpeg_with_repeated_scans_is_refused_before_decoding() -> None:
    assert decode_image(progressive()).format == "JPEG"  # a normal progressive JPEG
    with pytest.raises(ImageError) as info:
        decode_image(progressive(repeat_last_scan=100))
    assert info.value.code is Code.INVALID_IMAGE_TYPE
    assert "scans, more than the 64 a photo needs" in info.value.detail
    with pytest.raises(ImageError) as info:
        decode_image(progressive(repeat_last_scan=100), corrupt_code=Code.CORRUPTED_IMAGE)
    assert info.value.code is Code.CORRUPTED_IMAGE  # 2006 where the manual lists it


def test_a_long_side_bound_decodes_a_smaller_picture() -> None:
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(buf, "JPEG")
    small = decode_image(buf.getvalue(), ImageLimits(max_output_side=400))
    assert small.pixels.shape == (300, 400, 3)
    assert decode_image(buf.getvalue()).pixels.shape == (1200, 1600, 3)
