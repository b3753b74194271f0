"""MiniFASNet pack: crops per upstream, live vs printed photos on NUAA with YuNet's boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.core.types import Box
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.liveness.minifasnet import MiniFASNet, crop, crop_box
from facegate.vision.manifest import ModelIntegrityError, load_manifest
from facegate.vision.packs import install_pack

ROOT = Path(__file__).resolve().parents[2]
FRAMES_PER_CLASS = 30


@pytest.fixture(scope="module")
def model_dir(pack_model_dir: Path) -> Path:
    return pack_model_dir


@pytest.fixture(scope="module")
def net(model_dir: Path) -> MiniFASNet:
    loaded = MiniFASNet.load(model_dir)
    assert loaded is not None
    return loaded


# crops ------------------------------------------------------------------------------------


def test_crop_box_enlarges_around_the_centre() -> None:
    box = Box(270, 190, 370, 290)  # 100×100, centred in 640×480
    assert crop_box(640, 480, box, 2.7) == (185, 105, 455, 375)
    assert crop_box(640, 480, box, 4.0) == (120, 40, 520, 440)


def test_crop_box_shifts_inside_and_shrinks_to_fit() -> None:
    # Partly outside the top-left corner: same size, shifted in.
    assert crop_box(640, 480, Box(-30, -20, 70, 80), 4.0) == (0, 0, 400, 400)
    # Partly outside the bottom-right corner.
    assert crop_box(640, 480, Box(600, 450, 700, 550), 2.7) == (369, 209, 639, 479)
    # Too big for the image at 4×: the scale drops to what fits the height.
    left, top, right, bottom = crop_box(640, 480, Box(200, 100, 400, 300), 4.0)
    assert (top, bottom) == (0, 479)
    assert 0 <= left < right <= 639
    # Larger than the image itself.
    left, top, right, bottom = crop_box(640, 480, Box(-100, -100, 800, 600), 2.7)
    assert 0 <= left < right <= 639
    assert 0 <= top < bottom <= 479


@pytest.mark.parametrize(
    "box",
    [
        Box(-50, -40, 100, 120),
        Box(560, 400, 700, 560),
        Box(-500, -500, 1500, 1500),
        Box(2000, 2000, 2100, 2100),
        Box(300, 200, 301, 201),
        Box(300, 200, 300, 200),
    ],
)
def test_crop_never_fails_near_or_past_the_border(box: Box) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    patch = crop(pixels, box, 4.0)
    assert patch.shape == (80, 80, 3)
    assert patch.dtype == np.uint8


def test_crop_rejects_a_non_finite_box() -> None:
    pixels = np.zeros((48, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="finite"):
        crop(pixels, Box(float("nan"), 0, 10, 10), 2.7)


# loading ----------------------------------------------------------------------------------


def test_load_is_none_without_the_pack(tmp_path: Path) -> None:
    assert MiniFASNet.load(tmp_path) is None


def test_load_refuses_a_tampered_file(tmp_path: Path, pack_source: Path) -> None:
    install_pack("minifasnet", str(pack_source), tmp_path)
    path = tmp_path / "minifasnet" / "MiniFASNetV1SE_80x80.onnx"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        MiniFASNet.load(tmp_path)
    path.unlink()  # half a pack is an error too, not "not installed"
    with pytest.raises(ModelIntegrityError, match="not installed"):
        MiniFASNet.load(tmp_path)


# scores -----------------------------------------------------------------------------------


def test_scores_are_probabilities_even_at_the_border(net: MiniFASNet) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    boxes = [Box(-50, -40, 100, 120), Box(560, 400, 700, 560), Box(-500, -500, 1500, 1500)]
    scores = net.score_batch([pixels] * len(boxes), boxes)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] == pytest.approx(net.score(pixels, boxes[0]))
    tiny = np.full((12, 9, 3), 128, dtype=np.uint8)
    assert 0.0 <= net.score(tiny, Box(2, 2, 7, 9)) <= 1.0


def _nuaa_scores(net: MiniFASNet, folder: Path, detector: YuNetDetector) -> list[float]:
    files = sorted(folder.glob("*.jpg"))
    # Evenly spaced over the sorted names: all subjects and sessions, not one clip's frames.
    picks = [files[int(i)] for i in np.linspace(0, len(files) - 1, FRAMES_PER_CLASS)]
    scores = []
    for path in picks:
        pixels = np.asarray(cv2.imread(str(path)), dtype=np.uint8)
        faces = detector.detect(pixels)
        if faces:
            face = max(faces, key=lambda f: f.box.area)
            scores.append(net.score(pixels, face.box))
    assert len(scores) >= FRAMES_PER_CLASS - 3, f"YuNet missed faces in {folder}"
    return scores


@pytest.mark.data
@pytest.mark.models
def test_live_faces_score_above_printed_photos_on_nuaa(net: MiniFASNet, data_dir: Path) -> None:
    nuaa = data_dir / "nuaa"
    if not (nuaa / "live").is_dir() or not (nuaa / "print").is_dir():
        pytest.skip(f"NUAA frames not found under {nuaa}")
    # Constructed as the pipeline does, with its default options.
    detector = YuNetDetector(
        load_manifest().verified_path("yunet_2023mar_int8bq"), max_side=640, min_score=0.6
    )
    live = _nuaa_scores(net, nuaa / "live", detector)
    printed = _nuaa_scores(net, nuaa / "print", detector)
    # Measured on these 30 + 30: mean 0.86 vs 0.003, accuracy 96.7 %; on all 1,200: 93 %.
    assert np.mean(live) - np.mean(printed) > 0.5
    correct = sum(s >= 0.5 for s in live) + sum(s < 0.5 for s in printed)
    assert correct / (len(live) + len(printed)) >= 0.8


@pytest.mark.data
@pytest.mark.models
def test_openvino_and_onnx_runtime_give_the_same_scores(model_dir: Path, data_dir: Path) -> None:
    fast = MiniFASNet.load(model_dir, runtime="openvino")
    reference = MiniFASNet.load(model_dir, runtime="onnxruntime")
    assert fast is not None
    assert reference is not None
    assert (fast.runtime, reference.runtime) == ("openvino", "onnxruntime")
    detector = YuNetDetector(
        load_manifest().verified_path("yunet_2023mar_int8bq"), max_side=640, min_score=0.6
    )
    pairs = [
        (_nuaa_scores(fast, data_dir / "nuaa" / kind, detector),
         _nuaa_scores(reference, data_dir / "nuaa" / kind, detector))
        for kind in ("live", "print")
    ]  # fmt: skip
    for a, b in pairs:
        assert np.max(np.abs(np.array(a) - np.array(b))) < 1e-4
