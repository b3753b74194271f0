"""/quality/face/stateless on real photos: fields exactly as the manual, values that respond."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from facegate.core.crypto import Cipher
from tests.api.helpers import QUALITY, enc, ok_body
from tests.conftest import jpeg_bytes, lfw_photo, load_rgb, upscale_to_vga

pytestmark = [pytest.mark.models, pytest.mark.data]

FACE_KEYS = [
    "rect",
    "pose",
    "occlusion",
    "distance2center",
    "size",
    "brightness",
    "sharpness",
    "mouth_open",
    "integrity",
]


def faces(client: TestClient, cipher: Cipher, data: bytes | Path) -> list[dict[str, Any]]:
    body = ok_body(
        client.post(QUALITY, data={"encrypted_image": enc(cipher, data)}),
        ["code", "faces", "request_id"],
    )
    result: list[dict[str, Any]] = body["faces"]
    return result


def test_fields_types_and_ranges(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    (face,) = faces(
        client, cipher, jpeg_bytes(upscale_to_vga(load_rgb(lfw_photo(lfw, "Colin_Powell", 1))))
    )
    assert list(face) == FACE_KEYS
    assert list(face["rect"]) == ["left", "top", "right", "bottom"]
    assert all(isinstance(v, int) for v in face["rect"].values())
    assert list(face["pose"]) == ["yaw", "pitch", "roll"]
    assert list(face["occlusion"]) == ["left_eye", "right_eye", "nose", "mouth", "total"]
    for key in ("distance2center", "size", "sharpness", "mouth_open", "integrity"):
        assert 0.0 <= face[key] <= 1.0, key
    assert -1.0 <= face["brightness"] <= 1.0
    assert all(0.0 <= v <= 1.0 for v in face["occlusion"].values())
    assert all(v >= 0.5 for v in face["occlusion"].values())  # an unoccluded frontal face
    # Turned slightly to his left; a generic 3-D head overstates yaw a little.
    assert 5 < face["pose"]["yaw"] < 45
    assert abs(face["pose"]["pitch"]) < 25
    assert abs(face["pose"]["roll"]) < 10
    assert face["integrity"] == pytest.approx(1.0)
    assert face["distance2center"] > 0.8  # pasted in the middle of the canvas
    r = face["rect"]
    # The face region (aligned-crop footprint) is of the order of the detector's box.
    box_fraction = (r["right"] - r["left"]) * (r["bottom"] - r["top"]) / (640 * 480)
    assert 0.5 * box_fraction < face["size"] < 2.0 * box_fraction


def test_brightness_and_sharpness_respond(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    rgb = upscale_to_vga(load_rgb(lfw_photo(lfw, "Tony_Blair", 2)))
    (base,) = faces(client, cipher, jpeg_bytes(rgb))
    (dark,) = faces(client, cipher, jpeg_bytes((rgb * 0.45).astype(np.uint8)))
    (blurred,) = faces(client, cipher, jpeg_bytes(cv2.GaussianBlur(rgb, (0, 0), 4)))
    assert dark["brightness"] < base["brightness"] - 0.2
    assert blurred["sharpness"] < base["sharpness"] * 0.5


def test_pose_signs(client: TestClient, cipher: Cipher, lfw: Path) -> None:
    rgb = upscale_to_vga(load_rgb(lfw_photo(lfw, "Colin_Powell", 1)))
    (face,) = faces(client, cipher, jpeg_bytes(rgb))
    (mirrored,) = faces(client, cipher, jpeg_bytes(np.ascontiguousarray(rgb[:, ::-1])))
    assert mirrored["pose"]["yaw"] == pytest.approx(-face["pose"]["yaw"], abs=4)
    # Rotating the image clockwise by 15° tilts the head clockwise: roll grows by about 15°.
    m = cv2.getRotationMatrix2D((320, 240), -15, 1.0)
    (tilted,) = faces(client, cipher, jpeg_bytes(cv2.warpAffine(rgb, m, (640, 480))))
    assert tilted["pose"]["roll"] - face["pose"]["roll"] == pytest.approx(15, abs=5)


def test_several_faces_in_reading_order_with_position_measures(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    a = load_rgb(lfw_photo(lfw, "Colin_Powell", 1))
    b = load_rgb(lfw_photo(lfw, "Laura_Bush", 1))
    canvas = np.full((300, 900, 3), 100, dtype=np.uint8)
    canvas[25:275, 325:575] = a  # centred
    canvas[25:275, 760:900] = b[:, :140]  # cut by the right border
    result = faces(client, cipher, jpeg_bytes(canvas))
    assert len(result) == 2
    centred, cut = result
    assert centred["rect"]["left"] < cut["rect"]["left"]
    assert centred["distance2center"] > cut["distance2center"]
    assert centred["integrity"] == pytest.approx(1.0)
    assert 0.4 < cut["integrity"] < 0.9


def test_covered_mouth_lowers_mouth_visibility(
    client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    rgb = load_rgb(lfw_photo(lfw, "Tony_Blair", 2)).copy()
    (clean,) = faces(client, cipher, jpeg_bytes(rgb))
    rgb[140:190, 90:160] = (40, 60, 160)  # a blue mask
    (masked,) = faces(client, cipher, jpeg_bytes(rgb))
    assert clean["occlusion"]["mouth"] >= 0.5
    assert masked["occlusion"]["mouth"] < 0.5
    assert masked["occlusion"]["total"] < clean["occlusion"]["total"]
