"""The cloud selfie check reads formats with the same probe as the SenseID endpoints: a phone's
MPO (a JPEG carrying a second picture) is a JPEG on both (issue 17)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facegate.cloud.errors import CloudError, Status
from facegate.cloud.selfie import check_selfie
from facegate.core.media import decode_image, sniff_format


def picture(fmt: str, **save: object) -> bytes:
    rng = np.random.default_rng(7)
    first = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    buf = io.BytesIO()
    first.save(buf, format=fmt, **save)
    return buf.getvalue()


def mpo() -> bytes:
    second = Image.new("RGB", (160, 120), (90, 120, 150))
    data = picture("MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    return data


def test_an_mpo_is_a_jpeg_on_both_apis() -> None:
    data = mpo()
    assert sniff_format(data) == "JPEG"
    check_selfie(data, "selfie_file")  # accepted by the cloud check
    assert decode_image(data).format == "JPEG"  # and by the SenseID endpoints


def test_an_image_in_another_format_is_refused_as_such() -> None:
    with pytest.raises(CloudError) as caught:
        check_selfie(picture("WEBP"), "selfie_file")
    assert caught.value.status is Status.INVALID_IMAGE_FORMAT_OR_SIZE
    assert "WEBP" in caught.value.reason


def test_a_file_that_is_no_image_is_corrupt() -> None:
    for data in (b"\xff\xd8\xff" + bytes(100), b"hello, not a picture"):
        with pytest.raises(CloudError) as caught:
            check_selfie(data, "selfie_file")
        assert caught.value.status is Status.CORRUPT_IMAGE
