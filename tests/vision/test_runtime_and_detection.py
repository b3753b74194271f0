"""The converted SFace on OpenVINO against the wheel's file on OpenCV, and the 1:1 endpoints'
coarse-to-fine detection against a full-size pass, on real faces."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest

from facegate.core.types import Face, ImageArray
from facegate.vision import convert
from facegate.vision.manifest import ModelIntegrityError, load_manifest
from facegate.vision.pipeline import FINE_BELOW, REFINE_BELOW, FacePipeline, PipelineOptions
from tests.conftest import lfw_photo

PEOPLE = [("Colin_Powell", n) for n in range(1, 5)] + [("Tony_Blair", n) for n in range(1, 5)]


@pytest.fixture(scope="module")
def pipelines() -> dict[str, FacePipeline]:
    return {
        rt: FacePipeline(PipelineOptions(runtime=rt, with_quality=False))
        for rt in ("openvino", "opencv")
    }


def read(path: Path) -> ImageArray:
    return np.asarray(cv2.imread(str(path)), dtype=np.uint8)


def test_the_conversion_makes_the_file_the_manifest_names() -> None:
    manifest = load_manifest()
    spec = manifest.converted["sface_2021dec_fp32"]
    source = manifest.verified_path(spec.source_model).read_bytes()
    made = convert.dequantize(source)
    assert hashlib.sha256(made).hexdigest() == spec.sha256
    assert convert.dequantize(source) == made  # deterministic
    assert b"DequantizeLinear" in source
    assert b"DequantizeLinear" not in made


def test_openvino_embeds_as_opencv_does(pipelines: dict[str, FacePipeline], lfw: Path) -> None:
    fast, reference = pipelines["openvino"], pipelines["opencv"]
    assert fast.runtimes["sface_2021dec_int8bq"] == "openvino:sface_2021dec_fp32"
    assert reference.runtimes["sface_2021dec_int8bq"] == "opencv"
    cosines = []
    for person, n in PEOPLE:
        pixels = read(lfw_photo(lfw, person, n))
        oriented, face = reference.detect_main(pixels, "image")
        a, b = fast.embed(oriented.pixels, face)[0], reference.embed(oriented.pixels, face)[0]
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
        cosines.append(float(a @ b))
    assert min(cosines) >= 0.999, cosines


def test_a_converted_file_that_does_not_match_is_not_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = load_manifest()
    spec = manifest.converted["sface_2021dec_fp32"]
    wrong = replace(manifest, converted={spec.id: replace(spec, sha256="0" * 64)})
    with pytest.raises(ModelIntegrityError, match="sha256"):
        FacePipeline(PipelineOptions(runtime="openvino", with_quality=False), wrong)
    with caplog.at_level(logging.WARNING, logger="facegate.vision"):
        fallback = FacePipeline(PipelineOptions(runtime="auto", with_quality=False), wrong)
    assert fallback.runtimes["sface_2021dec_int8bq"] == "opencv"
    assert "runs on OpenCV" in caplog.text
    assert "sha256" in caplog.text


# --- coarse to fine -------------------------------------------------------------------------


def scene(face_photo: ImageArray, side: int, at: tuple[int, int]) -> ImageArray:
    """A 640×480 textured scene with the photo pasted at ``side`` px."""
    rng = np.random.default_rng(7)
    canvas = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
    canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), 3), dtype=np.uint8)
    small = cv2.resize(face_photo, (side, side), interpolation=cv2.INTER_AREA)
    x, y = at
    canvas[y : y + side, x : x + side] = small
    return canvas


class CountingDetector:
    """Records the size each detection ran at."""

    def __init__(self, pipe: FacePipeline) -> None:
        self.sides: list[int | None] = []
        self._detect = pipe.detector.detect

    def __call__(self, image: ImageArray, max_side: int | None = None) -> list[Face]:
        self.sides.append(max_side)
        return self._detect(image, max_side)


def landmark_error(a: Face, b: Face) -> float:
    """Mean distance between the five landmarks, in face widths."""
    err = np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean()
    return float(err / b.box.width)


def test_a_large_face_costs_one_small_detection(
    pipelines: dict[str, FacePipeline], lfw: Path
) -> None:
    pipe = pipelines["opencv"]
    pixels = scene(read(lfw_photo(lfw, "Colin_Powell", 1)), 440, (100, 20))
    counter = CountingDetector(pipe)
    with mock.patch.object(pipe.detector, "detect", counter):
        _, face = pipe.detect_main(pixels, "image")
    assert counter.sides == [320]
    full = pipe.main_face(pipe.detect(pixels), "image")
    assert face.box.iou(full.box) > 0.8
    assert landmark_error(face, full) < 0.03


def test_a_small_face_is_refined_and_a_tiny_one_found_at_full_size(
    pipelines: dict[str, FacePipeline], lfw: Path
) -> None:
    pipe = pipelines["opencv"]
    photo = read(lfw_photo(lfw, "Colin_Powell", 1))
    # About 60 px of face at 640 (35 in the coarse copy): found coarse, refined on a crop.
    pixels = scene(photo, 160, (400, 260))
    counter = CountingDetector(pipe)
    with mock.patch.object(pipe.detector, "detect", counter):
        _, face = pipe.detect_main(pixels, "image")
    assert counter.sides == [320, 320], "one coarse pass, then the crop"
    full = pipe.main_face(pipe.detect(pixels), "image")
    assert FINE_BELOW <= max(face.box.width, face.box.height) / 2 < REFINE_BELOW
    assert landmark_error(face, full) < 0.03
    coarse = pipe.main_face(pipe.detect(pixels, max_side=320), "image")
    assert landmark_error(face, full) < landmark_error(coarse, full)
    # About 25 px of face at 640 (12 in the coarse copy): the full-size pass runs.
    tiny = scene(photo, 60, (60, 380))
    counter = CountingDetector(pipe)
    with mock.patch.object(pipe.detector, "detect", counter):
        _, face = pipe.detect_main(tiny, "image")
    assert None in counter.sides, "the full-size pass ran"
    full = pipe.main_face(pipe.detect(tiny), "image")
    assert face.box.iou(full.box) > 0.5
