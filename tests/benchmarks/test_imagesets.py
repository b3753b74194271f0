"""The latency benchmark's photo sets: deterministic, the sizes promised, the face where it says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.imagesets import ImageSet, build_sets, phone_set, scene_set, webcam_set
from facegate.core.types import Box
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.manifest import load_manifest


@pytest.fixture(scope="module")
def scene(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return scene_set(data_dir, tmp_path_factory.mktemp("scene"), 5, seed=3)


@pytest.fixture(scope="module")
def wild(data_dir: Path) -> Path:
    if not any((data_dir / "wild" / "live").glob("td_selfies__*")):
        pytest.skip(f"no phone selfie clips (wild/live/td_selfies__*) in {data_dir}")
    return data_dir


def _people(images: ImageSet) -> set[bool]:
    return {a.person == b.person for a, b in images.pairs}


def test_webcam_pairs_are_nuaa_live_frames_drawn_by_the_seed(data_dir: Path) -> None:
    images = webcam_set(data_dir, 40, seed=7)
    pairs = [(a.path, b.path) for a, b in images.pairs]
    assert len(pairs) == 40
    assert all(p.parent == data_dir / "nuaa" / "live" for pair in pairs for p in pair)
    assert pairs == [(a.path, b.path) for a, b in webcam_set(data_dir, 40, seed=7).pairs]
    assert pairs != [(a.path, b.path) for a, b in webcam_set(data_dir, 40, seed=8).pairs]
    assert images.pairs[0][0].person == images.pairs[0][0].path.name.split("_")[0]
    assert _people(images) == {True, False}


def test_the_same_seed_writes_the_same_scene_bytes(
    data_dir: Path, scene: ImageSet, tmp_path: Path
) -> None:
    again = scene_set(data_dir, tmp_path, 5, seed=3)
    assert again.pairs == [
        tuple(replace(p, path=tmp_path / "scene" / p.path.name) for p in pair)
        for pair in scene.pairs
    ]
    for pair, other in zip(scene.pairs, again.pairs, strict=True):
        for p, q in zip(pair, other, strict=True):
            assert p.path.read_bytes() == q.path.read_bytes()
    assert _people(scene) == {True, False}


def test_scene_faces_are_small_inside_the_frame_and_found_where_stated(scene: ImageSet) -> None:
    detector = YuNetDetector(load_manifest().verified_path("yunet_2023mar_int8bq"))
    photos = [p for pair in scene.pairs for p in pair]
    hits = 0
    for photo in photos:
        image = np.asarray(cv2.imread(str(photo.path)), np.uint8)
        assert image.shape == (480, 640, 3)
        assert photo.face is not None
        left, top, right, bottom = photo.face
        assert 0 <= left < right <= 640
        assert 0 <= top < bottom <= 480
        assert 40 <= right - left <= 100
        truth = Box(left, top, right, bottom)
        hits += any(face.box.iou(truth) > 0.3 for face in detector.detect(image, 640))
    assert hits >= 0.8 * len(photos)


def test_phone_photos_are_full_resolution_portraits(wild: Path, tmp_path: Path) -> None:
    images = phone_set(wild, tmp_path, 2, seed=1)
    assert _people(images) == {True, False}
    for photo in {p for pair in images.pairs for p in pair}:
        image = cv2.imread(str(photo.path))
        assert image is not None
        assert image.shape == (1920, 1080, 3)
        assert photo.face is None
        assert photo.person


def test_build_sets_keeps_the_order_of_the_names(data_dir: Path, tmp_path: Path) -> None:
    sets = build_sets(data_dir, tmp_path, 2, names=("scene", "webcam"))
    assert [s.name for s in sets] == ["scene", "webcam"]
    assert all(len(s.pairs) == 2 and s.description for s in sets)
    with pytest.raises(ValueError, match="unknown image set"):
        build_sets(data_dir, tmp_path, 2, names=("studio",))
