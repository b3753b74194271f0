"""The occlusion estimator: its weights file, its output contract, and what it says about real
LFW faces of held-out persons (never trained or tuned on) with occluders drawn here — drawn
differently from the training generator, so these are not the training distribution."""

from __future__ import annotations

import importlib
import math
import zipfile
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from facegate.core.results import Occlusion
from facegate.core.types import ImageArray
from facegate.vision.align import TEMPLATE_112, align_face
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.manifest import load_manifest
from facegate.vision.quality.occlusion import (
    FEATURE_VERSION,
    REGIONS,
    OcclusionModel,
    feature_size,
)

N_FACES = 20


def _weights() -> Path:
    return Path(
        str(resources.files("facegate.vision.quality").joinpath(f"{OcclusionModel.id}.npz"))
    )


@pytest.fixture(scope="module")
def model() -> OcclusionModel:
    return OcclusionModel(_weights())


def _split_module() -> ModuleType:
    # The person split lives in the training script; load it from there so the tests can never
    # drift onto persons the model was trained on.
    return importlib.import_module("tools.train_occlusion")


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    return YuNetDetector(load_manifest().verified_path("yunet_2023mar_int8bq"))


def _aligned(detector: YuNetDetector, path: Path) -> ImageArray | None:
    read = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if read is None:
        return None
    image: ImageArray = np.asarray(read, np.uint8)
    found = detector.detect(image)
    if not found:
        return None
    face = max(found, key=lambda f: f.box.area)
    return align_face(image, face.landmarks)


@pytest.fixture(scope="module")
def heldout_faces(lfw: Path, detector: YuNetDetector) -> list[ImageArray]:
    train = _split_module()
    faces: list[ImageArray] = []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        if train.person_split(person.name) != "test":
            continue
        first = sorted(person.glob("*.jpg"))[0]
        if first.name in train.REAL_OCCLUSIONS or first.name in train.AMBIGUOUS:
            continue  # a real occluder (or an unclear case) is not a clean face
        face = _aligned(detector, first)
        if face is not None:
            faces.append(face)
        if len(faces) == N_FACES:
            break
    assert len(faces) == N_FACES
    return faces


# --- occluders drawn on the aligned crop -------------------------------------------------------
def _skin(face: ImageArray) -> tuple[float, float, float]:
    cheeks = np.concatenate([face[66:80, 20:36].reshape(-1, 3), face[66:80, 76:92].reshape(-1, 3)])
    b, g, r = np.median(cheeks, axis=0).tolist()
    return (b, g, r)


def _hand_over_mouth(face: ImageArray, skin: tuple[float, float, float]) -> ImageArray:
    out = face.copy()
    shade = tuple(0.75 * c for c in skin)
    cv2.ellipse(out, (56, 106), (20, 16), 0, 0, 360, skin, -1, cv2.LINE_AA)
    for x, top in ((40, 80), (50, 76), (61, 76), (72, 80)):  # four fingers pointing up
        cv2.line(out, (x, 104), (x, top), shade, 10, cv2.LINE_AA)
        cv2.line(out, (x, 104), (x, top), skin, 8, cv2.LINE_AA)
    return out


def _mask(face: ImageArray) -> ImageArray:
    out = face.copy()
    pts = np.array([[14, 70], [56, 60], [98, 70], [94, 104], [56, 118], [18, 104]], np.int32)
    cv2.fillPoly(out, [pts], (225, 200, 170), cv2.LINE_AA)
    for y in (84, 94):  # pleats
        cv2.line(out, (22, y), (90, y), (190, 170, 145), 1, cv2.LINE_AA)
    return out


def _sunglasses(face: ImageArray) -> ImageArray:
    out = face.copy()
    for x, y in TEMPLATE_112[:2].tolist():
        cv2.ellipse(
            out, (round(x), round(y) + 1), (15, 11), 0, 0, 360, (25, 22, 20), -1, cv2.LINE_AA
        )
    cv2.line(out, (53, 50), (59, 50), (20, 20, 20), 2, cv2.LINE_AA)
    return out


def _score(model: OcclusionModel, crops: list[ImageArray]) -> np.ndarray:
    rows = []
    for crop in crops:
        occ = model.estimate_aligned(crop)
        rows.append([getattr(occ, name) for name in REGIONS])
    return np.array(rows)


def _col(name: str) -> int:
    return REGIONS.index(name)


# --- no data needed ---------------------------------------------------------------------------
def test_weights_file_has_the_expected_arrays() -> None:
    path = _weights()
    assert path.stat().st_size < 2_000_000
    with zipfile.ZipFile(path) as zf:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())  # reproducible
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    dim = feature_size()
    assert arrays["mean"].shape == (dim,)
    assert arrays["scale"].shape == (dim,)
    assert (arrays["scale"] > 0).all()
    hidden = arrays["left_eye.w1"].shape[1]
    for r in REGIONS:
        assert arrays[f"{r}.w1"].shape == (dim, hidden)
        assert arrays[f"{r}.b1"].shape == (hidden,)
        assert arrays[f"{r}.w2"].shape == (hidden,)
        assert arrays[f"{r}.b2"].shape == ()
        assert arrays[f"{r}.w1"].dtype == np.float32
        assert np.isfinite(arrays[f"{r}.w1"]).all()
    meta = OcclusionModel(path).meta
    assert meta["feature_version"] == FEATURE_VERSION
    assert meta["regions"] == list(REGIONS)
    assert set(meta["holdout_kinds"]).isdisjoint(meta["trained_kinds"])


def test_uniform_grey_gives_fractions_and_total_is_their_mean(model: OcclusionModel) -> None:
    occ = model.estimate_aligned(np.full((112, 112, 3), 128, np.uint8))
    values = [getattr(occ, name) for name in REGIONS]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert math.isclose(occ.total, sum(values) / 4, rel_tol=1e-9, abs_tol=1e-12)
    assert isinstance(occ, Occlusion)


def test_rejects_a_crop_of_the_wrong_shape(model: OcclusionModel) -> None:
    with pytest.raises(ValueError, match="112"):
        model.estimate_aligned(np.zeros((100, 112, 3), np.uint8))


def test_same_answer_from_many_threads(model: OcclusionModel) -> None:
    rng = np.random.default_rng(7)
    crops = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(16)]
    expected = [model.estimate_aligned(c) for c in crops]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(model.estimate_aligned, crops * 4))
    assert got == expected * 4


def test_rejects_a_file_that_is_not_occlusion_weights(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="missing"):
        OcclusionModel(bad)


# --- held-out LFW faces -------------------------------------------------------------------------
@pytest.mark.data
def test_clean_heldout_faces_are_not_occluded(
    model: OcclusionModel, heldout_faces: list[ImageArray]
) -> None:
    v = _score(model, heldout_faces)
    assert (v >= 0.5).all(axis=1).mean() >= 0.9, v.round(2)


@pytest.mark.data
def test_hand_over_the_mouth_is_seen(
    model: OcclusionModel, heldout_faces: list[ImageArray]
) -> None:
    # Skin colour of the NEXT person: a hand is rarely exactly the colour of the face.
    skins = [_skin(f) for f in heldout_faces]
    crops = [_hand_over_mouth(f, skins[(i + 1) % len(skins)]) for i, f in enumerate(heldout_faces)]
    v = _score(model, crops)
    assert (v[:, _col("mouth")] < 0.5).mean() >= 0.85, v.round(2)
    eyes = v[:, [_col("left_eye"), _col("right_eye")]]
    assert (eyes >= 0.5).all(axis=1).mean() >= 0.85, v.round(2)


@pytest.mark.data
def test_mask_covers_nose_and_mouth(model: OcclusionModel, heldout_faces: list[ImageArray]) -> None:
    v = _score(model, [_mask(f) for f in heldout_faces])
    assert (v[:, _col("mouth")] < 0.5).mean() >= 0.85, v.round(2)
    assert (v[:, _col("nose")] < 0.5).mean() >= 0.85, v.round(2)
    eyes = v[:, [_col("left_eye"), _col("right_eye")]]
    assert (eyes >= 0.5).all(axis=1).mean() >= 0.85, v.round(2)


@pytest.mark.data
def test_real_sunglasses_of_heldout_persons_are_seen(
    model: OcclusionModel, lfw: Path, detector: YuNetDetector
) -> None:
    # Photos with real sunglasses, labelled by hand; only those of test persons.
    train = _split_module()
    files = [
        lfw / name.rsplit("_", 1)[0] / name
        for name, cov in train.REAL_OCCLUSIONS.items()
        if cov[:2] == (1.0, 1.0) and train.person_split(name.rsplit("_", 1)[0]) == "test"
    ]
    crops = [c for c in (_aligned(detector, f) for f in files) if c is not None]
    assert len(crops) >= 15
    v = _score(model, crops)
    eyes = v[:, [_col("left_eye"), _col("right_eye")]]
    assert (eyes < 0.5).any(axis=1).mean() >= 0.7, v.round(2)


@pytest.mark.data
def test_left_eye_is_the_subjects_left_on_the_image_right(
    model: OcclusionModel, heldout_faces: list[ImageArray]
) -> None:
    crops = []
    for face in heldout_faces:
        out = face.copy()
        x, y = TEMPLATE_112[1].tolist()  # image right = the subject's left eye
        cv2.ellipse(out, (round(x), round(y)), (15, 11), 0, 0, 360, (25, 22, 20), -1, cv2.LINE_AA)
        crops.append(out)
    v = _score(model, crops)
    assert (v[:, _col("left_eye")] < 0.5).mean() >= 0.85, v.round(2)
    assert (v[:, _col("right_eye")] >= 0.5).mean() >= 0.85, v.round(2)


@pytest.mark.data
def test_sunglasses_cover_both_eyes(model: OcclusionModel, heldout_faces: list[ImageArray]) -> None:
    v = _score(model, [_sunglasses(f) for f in heldout_faces])
    eyes = v[:, [_col("left_eye"), _col("right_eye")]]
    assert (eyes < 0.5).all(axis=1).mean() >= 0.85, v.round(2)
    assert (v[:, _col("mouth")] >= 0.5).mean() >= 0.85, v.round(2)
