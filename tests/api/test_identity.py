"""Face comparison endpoints on real photos (LFW), through the real models."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facegate.core.crypto import Cipher
from tests.api.helpers import MULTI, VERIFY, enc, error_code, ok_body, post_pair
from tests.conftest import encode, jpeg_bytes, lfw_photo, load_rgb, upscale_to_vga

pytestmark = [pytest.mark.models, pytest.mark.data]


def score(
    client: TestClient, cipher: Cipher, a: bytes | Path, b: bytes | Path, **flags: str
) -> float:
    body = ok_body(
        post_pair(client, cipher, VERIFY, a, b, **flags),
        ["code", "verification_score", "request_id"],
    )
    s = body["verification_score"]
    assert isinstance(s, float)
    assert 0.0 <= s <= 1.0
    return s


SAME = [
    ("Junichiro_Koizumi", 1, 2),
    ("Colin_Powell", 1, 3),
    ("Tony_Blair", 2, 5),
    ("Laura_Bush", 1, 2),
]
DIFFERENT = [
    ("Junichiro_Koizumi", 1, "Colin_Powell", 1),
    ("Tony_Blair", 1, "Laura_Bush", 1),
    ("Colin_Powell", 2, "Tony_Blair", 3),
]


@pytest.mark.parametrize(("person", "i", "j"), SAME)
def test_same_person_scores_high(
    client: TestClient, cipher: Cipher, lfw: Path, person: str, i: int, j: int
) -> None:
    assert score(client, cipher, lfw_photo(lfw, person, i), lfw_photo(lfw, person, j)) > 0.7


@pytest.mark.parametrize(("p1", "i", "p2", "j"), DIFFERENT)
def test_different_persons_score_low(
    client: TestClient, cipher: Cipher, lfw: Path, p1: str, i: int, p2: str, j: int
) -> None:
    assert score(client, cipher, lfw_photo(lfw, p1, i), lfw_photo(lfw, p2, j)) < 0.5


def test_score_is_symmetric_and_deterministic(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    a, b = lfw_photo(lfw, "Tony_Blair", 1), lfw_photo(lfw, "Tony_Blair", 4)
    s1 = score(client, cipher, a, b)
    assert score(client, cipher, b, a) == pytest.approx(s1, abs=1e-6)
    assert score(client, cipher, a, b) == s1


def test_unescaped_curl_style_body_is_accepted(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    """``curl -d first_encrypted_image=…`` sends '+' raw; form decoding turns it into a space."""
    a = enc(cipher, lfw_photo(lfw, "Colin_Powell", 1))
    b = enc(cipher, lfw_photo(lfw, "Colin_Powell", 3))
    assert "+" in a + b
    raw = f"first_encrypted_image={a}&second_encrypted_image={b}&auto_rotate=1"
    r = client.post(
        VERIFY, content=raw.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert ok_body(r, ["code", "verification_score", "request_id"])["verification_score"] > 0.7
    escaped = (
        f"first_encrypted_image={quote(a, safe='')}&second_encrypted_image={quote(b, safe='')}"
    )
    r2 = client.post(
        VERIFY,
        content=escaped.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r2.json()["verification_score"] == r.json()["verification_score"]


def test_multipart_body_with_text_and_file_parts(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    a = enc(cipher, lfw_photo(lfw, "Laura_Bush", 1))
    b = enc(cipher, lfw_photo(lfw, "Laura_Bush", 2))
    r = client.post(
        VERIFY,
        data={"first_encrypted_image": a, "check_quality": "false"},
        files={"second_encrypted_image": ("b.txt", b.encode(), "text/plain")},
    )
    assert ok_body(r, ["code", "verification_score", "request_id"])["verification_score"] > 0.7


def test_nonce_form_is_accepted(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    a = cipher.encrypt(lfw_photo(lfw, "Tony_Blair", 1).read_bytes(), random_nonce=True)
    b = cipher.encrypt(lfw_photo(lfw, "Tony_Blair", 2).read_bytes(), random_nonce=True)
    r = client.post(VERIFY, data={"first_encrypted_image": a, "second_encrypted_image": b})
    assert ok_body(r, ["code", "verification_score", "request_id"])["verification_score"] > 0.7


@pytest.mark.parametrize("value", ["maybe", "yes", "2"])
def test_bad_boolean_is_1200(client: TestClient, cipher: Cipher, lfw: Path, value: str) -> None:
    p = lfw_photo(lfw, "Tony_Blair", 1)
    assert error_code(post_pair(client, cipher, VERIFY, p, p, auto_rotate=value)) == 1200


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "false", "0", ""])
def test_manual_booleans_are_accepted(
    client: TestClient, cipher: Cipher, lfw: Path, value: str
) -> None:
    p = lfw_photo(lfw, "Tony_Blair", 1)
    assert (
        post_pair(client, cipher, VERIFY, p, p, auto_rotate=value, check_quality=value).status_code
        == 200
    )


def test_auto_rotate_finds_turned_faces(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    upright = upscale_to_vga(load_rgb(lfw_photo(lfw, "Colin_Powell", 1)))
    ref = lfw_photo(lfw, "Colin_Powell", 3)
    for k in (1, 2, 3):
        turned = jpeg_bytes(np.ascontiguousarray(np.rot90(upright, k)))
        assert score(client, cipher, turned, ref, auto_rotate="true") > 0.7
    # Without auto_rotate an upside-down face is not compared as a match.
    r = post_pair(
        client, cipher, VERIFY, jpeg_bytes(np.ascontiguousarray(np.rot90(upright, 2))), ref
    )
    refused = r.status_code == 400 and r.json()["code"] == 4000
    assert refused or r.json()["verification_score"] < 0.7


def test_exif_orientation_needs_no_auto_rotate(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    upright = upscale_to_vga(load_rgb(lfw_photo(lfw, "Colin_Powell", 1)))
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # pixels stored turned, EXIF says turn back
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes())
    assert score(client, cipher, data, lfw_photo(lfw, "Colin_Powell", 3)) > 0.7


def test_other_formats_compare_like_jpeg(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    img = Image.open(lfw_photo(lfw, "Junichiro_Koizumi", 1))
    ref = lfw_photo(lfw, "Junichiro_Koizumi", 2)
    for fmt in ("PNG", "BMP", "TIFF", "GIF"):
        assert score(client, cipher, encode(img, fmt), ref) > 0.7


def test_largest_face_is_compared(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    big = np.asarray(Image.fromarray(load_rgb(lfw_photo(lfw, "Tony_Blair", 1))).resize((400, 400)))
    small = np.asarray(
        Image.fromarray(load_rgb(lfw_photo(lfw, "Laura_Bush", 1))).resize((160, 160))
    )
    canvas = np.full((480, 640, 3), 90, dtype=np.uint8)
    canvas[40:440, 220:620] = big
    canvas[160:320, 20:180] = small
    group = jpeg_bytes(canvas)
    assert score(client, cipher, group, lfw_photo(lfw, "Tony_Blair", 2)) > 0.7
    assert score(client, cipher, group, lfw_photo(lfw, "Laura_Bush", 2)) < 0.5


def test_multiface_scores_rows_and_rects(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    left = load_rgb(lfw_photo(lfw, "Colin_Powell", 1))
    right = load_rgb(lfw_photo(lfw, "Laura_Bush", 1))
    pair = jpeg_bytes(np.concatenate([left, right], axis=1))  # 500×250, two faces
    subject = jpeg_bytes(load_rgb(lfw_photo(lfw, "Laura_Bush", 2))[50:200, 50:200].copy())
    r = post_pair(client, cipher, MULTI, pair, subject)
    body = ok_body(r, ["code", "scores", "face_rects", "request_id"])
    assert list(body["face_rects"]) == ["first_image_face_rects", "second_image_face_rects"]
    rects1 = body["face_rects"]["first_image_face_rects"]
    rects2 = body["face_rects"]["second_image_face_rects"]
    assert len(rects1) == 2
    assert len(rects2) == 1
    assert all(len(r) == 4 and all(isinstance(v, int) for v in r) for r in rects1 + rects2)
    assert rects1[0][0] < rects1[1][0]  # documented order: left to right
    assert rects1[0][2] <= 260
    assert rects1[1][0] >= 240
    scores = body["scores"]
    assert len(scores) == 2
    assert all(len(row) == 1 for row in scores)
    assert scores[0][0] < 0.5 < 0.7 < scores[1][0]  # Powell vs Serena low, Serena vs Serena high


def test_multiface_rects_are_in_the_sent_photos_coordinates(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    upright = upscale_to_vga(
        load_rgb(lfw_photo(lfw, "Colin_Powell", 1))
    )  # face in x 120…520, y 40…440
    turned = np.ascontiguousarray(np.rot90(upright, 1))  # 480 wide, 640 high
    r = post_pair(
        client,
        cipher,
        MULTI,
        jpeg_bytes(turned),
        lfw_photo(lfw, "Colin_Powell", 3),
        auto_rotate="true",
    )
    body = ok_body(r, ["code", "scores", "face_rects", "request_id"])
    ((left, top, right, bottom),) = body["face_rects"]["first_image_face_rects"]
    assert 0 <= left < right <= 480
    assert 0 <= top < bottom <= 640
    # The face was at x 120…520, y 40…440 upright; turned a quarter counter-clockwise, that
    # region is x 40…440, y 120…520.
    assert left >= 40
    assert right <= 440
    assert top >= 120
    assert bottom <= 540
    assert body["scores"][0][0] > 0.7


def test_a_crowd_lists_at_most_max_faces_the_largest(cipher: Cipher, lfw: Path) -> None:
    from facegate.api.app import create_app
    from facegate.settings import Settings

    people = [("Colin_Powell", 1), ("Laura_Bush", 1), ("Tony_Blair", 2)]
    canvas = np.full((300, 900, 3), 110, dtype=np.uint8)
    for n, (name, i) in enumerate(people):
        face = load_rgb(lfw_photo(lfw, name, i))[40:210, 40:210]
        size = 170 if n != 1 else 120  # the middle face is the smallest
        face = np.asarray(Image.fromarray(face).resize((size, size)))
        canvas[60 : 60 + size, 40 + 300 * n : 40 + 300 * n + size] = face
    with TestClient(create_app(Settings(max_faces=2))) as small:
        r = post_pair(small, cipher, MULTI, jpeg_bytes(canvas), lfw_photo(lfw, "Tony_Blair", 3))
        rects = ok_body(r, ["code", "scores", "face_rects", "request_id"])["face_rects"]
        first = rects["first_image_face_rects"]
        assert len(first) == 2
        # Powell (left) and Blair (right) kept, the smaller Bush (middle) dropped.
        assert first[0][0] < 300
        assert first[1][0] > 600
        assert r.json()["scores"][1][0] > 0.7
