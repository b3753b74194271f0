"""Every documented error code from a real bad input, on every photo endpoint; never a 500."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facegate.core.crypto import Cipher
from tests.api.helpers import MULTI, QUALITY, VERIFY, enc, error_code, post_pair
from tests.conftest import encode, jpeg_bytes, lfw_photo, load_rgb

pytestmark = [pytest.mark.models, pytest.mark.data]

RNG = np.random.default_rng(7)


def noise_png(w: int, h: int) -> bytes:
    return encode(Image.fromarray(RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)), "PNG")


def bad_inputs(lfw: Path) -> dict[str, tuple[bytes, int, int]]:
    """name → (photo bytes, code on verify/quality, code on multiface)."""
    good = lfw_photo(lfw, "Tony_Blair", 1).read_bytes()
    six_mb = noise_png(1500, 1400)
    assert len(six_mb) > 6_000_000
    return {
        "16x16": (encode(Image.new("RGB", (16, 16)), "PNG"), 2003, 2003),
        "6000x100": (encode(Image.new("RGB", (6000, 100)), "JPEG"), 2003, 2003),
        "6000x6000": (encode(Image.new("RGB", (6000, 6000)), "PNG"), 2003, 2003),
        "6MB": (six_mb, 2004, 2004),
        "zero bytes": (b"", 2004, 2004),
        "text file": (b"name,age\nalice,31\nbob,42\n" * 20, 2005, 2005),
        "corrupt jpeg": (good[: len(good) // 3], 2005, 2006),
        "jpeg header then noise": (
            good[:600] + RNG.integers(0, 255, 9000, dtype=np.uint8).tobytes(),
            2005,
            2006,
        ),
        "no face": (noise_png(320, 240), 4000, 4000),
        "blank photo": (jpeg_bytes(np.full((480, 640, 3), 200, dtype=np.uint8)), 4000, 4000),
    }


@pytest.fixture(scope="module")
def inputs(lfw: Path) -> dict[str, tuple[bytes, int, int]]:
    return bad_inputs(lfw)


CASES = [
    "16x16",
    "6000x100",
    "6000x6000",
    "6MB",
    "zero bytes",
    "text file",
    "corrupt jpeg",
    "jpeg header then noise",
    "no face",
    "blank photo",
]


@pytest.mark.parametrize("case", CASES)
def test_verify_errors(
    client: TestClient,
    cipher: Cipher,
    lfw: Path,
    inputs: dict[str, tuple[bytes, int, int]],
    case: str,
) -> None:
    bad, code, _ = inputs[case]
    good = lfw_photo(lfw, "Tony_Blair", 2)
    r = post_pair(client, cipher, VERIFY, bad, good)
    assert error_code(r) == code
    assert "first_encrypted_image" in r.json()["message"]
    r = post_pair(client, cipher, VERIFY, good, bad)
    assert error_code(r) == code
    assert "second_encrypted_image" in r.json()["message"]


@pytest.mark.parametrize("case", CASES)
def test_multiface_errors(
    client: TestClient,
    cipher: Cipher,
    lfw: Path,
    inputs: dict[str, tuple[bytes, int, int]],
    case: str,
) -> None:
    bad, _, code = inputs[case]
    assert (
        error_code(post_pair(client, cipher, MULTI, lfw_photo(lfw, "Tony_Blair", 2), bad)) == code
    )


@pytest.mark.parametrize("case", CASES)
def test_quality_errors(
    client: TestClient, cipher: Cipher, inputs: dict[str, tuple[bytes, int, int]], case: str
) -> None:
    bad, code, _ = inputs[case]
    assert error_code(client.post(QUALITY, data={"encrypted_image": enc(cipher, bad)})) == code


def test_truncated_base64_and_wrong_key_are_1200(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    good = enc(cipher, lfw_photo(lfw, "Tony_Blair", 1))
    wrong_key = Cipher("0123456789abcdef0123456789abcdef", "df25d188a061").encrypt(
        lfw_photo(lfw, "Tony_Blair", 1).read_bytes()
    )
    for first in (good[: len(good) - 5], good[: len(good) // 2 // 4 * 4], wrong_key, "%%%", "   "):
        r = client.post(
            VERIFY, data={"first_encrypted_image": first, "second_encrypted_image": good}
        )
        assert error_code(r) == 1200
        assert "first_encrypted_image" in r.json()["message"]


def test_covered_mouth_with_check_quality_is_4004(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    ref = lfw_photo(lfw, "Colin_Powell", 3)
    covered_any = 0
    for n in (1, 2, 4):
        rgb = load_rgb(lfw_photo(lfw, "Colin_Powell", n)).copy()
        rgb[138:190, 88:162] = (196, 150, 120)  # a skin-coloured hand over the mouth and chin
        data = jpeg_bytes(rgb)
        r = post_pair(client, cipher, VERIFY, data, ref, check_quality="true")
        if r.status_code == 400:
            assert r.json()["code"] == 4004
            assert "mouth" in r.json()["message"]
            covered_any += 1
        # Without check_quality the same photo is compared, not refused.
        assert post_pair(client, cipher, VERIFY, data, ref).status_code == 200
    assert covered_any == 3
    # The clean photos pass the quality check.
    clean = lfw_photo(lfw, "Colin_Powell", 1)
    assert post_pair(client, cipher, VERIFY, clean, ref, check_quality="true").status_code == 200


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "first_encrypted_image",
                "second_encrypted_image",
                "auto_rotate",
                "check_quality",
                "encrypted_image",
                "x",
            ]
        ),
        st.one_of(
            st.text(max_size=64), st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
        ),
        max_size=5,
    ),
    st.sampled_from([VERIFY, MULTI, QUALITY]),
)
def test_random_forms_never_500(client: TestClient, form: dict[str, str], url: str) -> None:
    r = client.post(url, data=form)
    assert r.status_code in (200, 400)
    assert r.json()["code"] in (1000, 1200, 2003, 2004, 2005, 2006, 4000, 4004)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=0, max_size=3000), st.integers(min_value=0, max_value=2000))
def test_random_image_bytes_never_500(
    client: TestClient, cipher: Cipher, lfw: Path, junk: bytes, cut: int
) -> None:
    good = lfw_photo(lfw, "Tony_Blair", 1).read_bytes()
    for data in (junk, good[:cut] + junk):
        r = client.post(QUALITY, data={"encrypted_image": cipher.encrypt(data)})
        assert r.status_code in (200, 400), r.text
