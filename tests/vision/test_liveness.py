"""Liveness building blocks: the fusion file, the face track, and the cues' physics."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.core.types import Box, Face
from facegate.vision.liveness import cues
from facegate.vision.liveness.fusion import Expert, Fusion, load_fusion
from facegate.vision.liveness.track import track_main_face, visible_seconds
from facegate.vision.manifest import load_manifest
from facegate.vision.quality.landmarks68 import Landmarks68
from tests.conftest import lfw_photo
from tests.videos import wall


def face(x: float, y: float, w: float, score: float = 0.9) -> Face:
    marks = np.array([[x + 0.3 * w, y + 0.4 * w]] * 5, dtype=np.float32)
    return Face(Box(x, y, x + w, y + w), marks, score)


# --- fusion -------------------------------------------------------------------------------------


def expert(attack: str = "print", bias: float = 0.2) -> Expert:
    return Expert(attack, ("a", "b"), (0.0, 10.0), (1.0, 2.0), (1.0, -0.5), bias)


def fusion() -> Fusion:
    return Fusion("t", (expert("print"), expert("replay", bias=-1.0)), 0.5)


def test_an_expert_is_a_logistic_model_on_standardised_cues() -> None:
    e = expert()
    expected = 0.2 + 1.0 * 1.0 - 0.5 * (14.0 - 10.0) / 2.0
    assert e.logit({"a": 1.0, "b": 14.0}) == pytest.approx(expected)
    assert e.score({"a": 1.0, "b": 14.0}) == pytest.approx(1 / (1 + math.exp(-expected)))


def test_the_least_convinced_expert_decides() -> None:
    f = fusion()
    values = {"a": 1.0, "b": 14.0}
    by_attack = f.expert_scores(values)
    assert set(by_attack) == {"print", "replay"}
    assert by_attack["replay"] < by_attack["print"]
    assert f.score(values) == by_attack["replay"]
    assert f.features == ("a", "b")
    assert Fusion("unfitted", (), 0.5).score(values) == 0.5


def test_the_explanation_names_the_doubting_expert_and_its_strongest_cues() -> None:
    f = fusion()
    # The replay expert (bias -1) doubts most; "a" pushes its logit up (+1 per unit) and "b"
    # above its mean pushes it down: only cues that speak against "live" are named.
    assert f.explain({"a": 1.0, "b": 14.0}) == ("replay", ("b",))
    assert f.explain({"a": -3.0, "b": 14.0}) == ("replay", ("a", "b"))
    assert f.explain({"a": -3.0, "b": 14.0}, top=1) == ("replay", ("a",))
    assert Fusion("unfitted", (), 0.5).explain({"a": 1.0}) == ("", ())


def test_unmeasured_cues_count_as_average_and_outliers_are_clipped() -> None:
    e = expert()
    assert e.logit({"a": 0.0, "b": math.nan}) == pytest.approx(0.2)
    assert e.logit({"a": 0.0}) == pytest.approx(0.2)
    assert e.logit({"a": 1e9, "b": 10.0}) == pytest.approx(0.2 + 6.0)


def test_fusion_files_round_trip_and_bad_ones_are_refused() -> None:
    f = fusion()
    assert Fusion.from_dict(f.to_dict()) == f
    good = f.to_dict()

    def with_expert(**change: object) -> dict[str, object]:
        return good | {"experts": [good["experts"][0] | change]}

    with pytest.raises(ValueError, match="positive"):
        Fusion.from_dict(with_expert(scale=[1.0, 0.0]))
    with pytest.raises(ValueError, match="length"):
        Fusion.from_dict(with_expert(weights=[1.0]))
    with pytest.raises(ValueError, match="format"):
        Fusion.from_dict(good | {"format": 1})
    with pytest.raises(ValueError, match="combine"):
        Fusion.from_dict(good | {"combine": "mean"})
    with pytest.raises(ValueError, match="no experts"):
        Fusion.from_dict(good | {"experts": []})
    with pytest.raises(ValueError, match="same attack"):
        Fusion.from_dict(good | {"experts": [good["experts"][0]] * 2})


@pytest.mark.parametrize("with_pack", [False, True])
def test_shipped_fusions_load_and_say_how_they_were_fitted(with_pack: bool) -> None:
    f = load_fusion(with_pack)
    assert 0.0 < f.threshold < 1.0
    assert ("pack_min" in f.features) == with_pack
    assert [e.attack for e in f.experts] == ["print", "replay"]
    info = f.info
    assert info["fitted_by"] == "tools/fit_liveness.py"
    assert info["commit"]
    assert info["protocol"].startswith("leave-one-source-out")
    # The figures of the procedure on sources it never saw, per source and per attack type,
    # and the data they come from.
    nested = info["nested"]
    assert nested["n_live"] > 100
    assert len(nested["bpcer_by_source"]) >= 15
    assert set(nested["apcer_by_type"]) == {"print", "replay"}
    assert info["data"]["n_attacks"] >= 100
    assert info["data"]["synthetic"]["seed"] is not None
    assert {c["kind"] for c in info["real_clips"]} == {"live", "replay"}
    # Weights that miss a target ship only with the shortfall accepted in words.
    if info["shortfalls"]:
        assert info["accepted_shortfall"].strip()


# --- tracking -----------------------------------------------------------------------------------


def test_the_track_follows_the_main_face_not_a_newcomer() -> None:
    person = [face(300 + 4 * k, 200, 120) for k in range(6)]
    bystander = face(20, 20, 150)  # larger, but appears later and elsewhere
    frames: list[list[Face]] = [[p] for p in person[:3]] + [[bystander, p] for p in person[3:]]
    frames[4] = [bystander]  # the person is missed once
    track = track_main_face(frames, 640, 480)
    assert track[:4] == person[:4]
    assert track[4] is None
    assert track[5] == person[5]


def test_a_face_lost_for_a_moment_is_taken_back_where_a_head_could_have_moved() -> None:
    # A phone jerked in the hand: the face jumps by a box width (no overlap) after two frames
    # the detector missed; it is the same face, about as large, and near.
    frames: list[list[Face]] = [[face(200, 200, 100)], [], [], [face(330, 210, 105)]]
    times = [0.0, 0.1, 0.2, 0.3]
    assert track_main_face(frames, 640, 480, times)[3] == frames[3][0]
    # Another size, or too far for the time lost, or lost for longer than a second: not it.
    for other in (face(330, 210, 200), face(560, 20, 100)):
        assert track_main_face([*frames[:3], [other]], 640, 480, times)[3] is None
    late = [frames[0]] + [[]] * 12 + [frames[3]]
    assert track_main_face(late, 640, 480, [k / 10 for k in range(14)])[13] is None


def test_visible_seconds_counts_the_frames_with_the_face() -> None:
    times = [k / 10 for k in range(30)]
    track: list[Face | None] = [face(0, 0, 50) if k < 12 else None for k in range(30)]
    assert visible_seconds(track, times) == pytest.approx(1.2)


# --- cues on real faces -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landmarks() -> Landmarks68:
    return Landmarks68(load_manifest().verified_path("dlib_shape68"))


def test_black_sees_the_floor_of_ink_on_paper(lfw: Path) -> None:
    img = cv2.imread(str(lfw_photo(lfw, "Colin_Powell", 1)))
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    box = Box(70, 70, 180, 180)
    # Printed: ink black at 12 % and paper white at 85 % of the camera's white.
    printed = np.clip(0.12 * 255 + gray.astype(np.float32) * 0.73, 0, 255).astype(np.uint8)
    assert cues.black_cue(gray, box) < 0.05
    assert cues.black_cue(printed, box) > cues.black_cue(gray, box) + 0.1


def test_edges_find_a_paper_border_around_the_face(lfw: Path) -> None:
    img = cv2.imread(str(lfw_photo(lfw, "Colin_Powell", 1)))
    scene = np.full((480, 640, 3), 90, np.uint8)
    scene[115:365, 195:445] = img
    framed = scene.copy()
    cv2.rectangle(framed, (170, 90), (470, 390), (250, 250, 250), 6)  # the paper's white margin
    box = Box(250, 170, 390, 320)
    gray = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
    framed_gray = cv2.cvtColor(framed, cv2.COLOR_BGR2GRAY)
    framed_cues = cues.edge_cues(framed_gray, box)
    assert framed_cues["edges"] > cues.edge_cues(gray, box)["edges"] + 0.5
    assert framed_cues["enclosure"] == 2  # all four sides: two beyond what a room gives


def moved_photo(
    img: np.ndarray, n: int, *, deform: bool
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a photo moved by a hand as one plane (grey), and the homography of each.
    ``deform``: the face also changes shape as a live one does — the nose shifts against the
    cheeks (a head turning in depth) and the mouth opens and closes."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, homographies = [], []
    for k in range(n):
        src = img
        if deform:
            nose = np.exp(-((xx - 125) ** 2 + (yy - 130) ** 2) / (2 * 22.0**2))
            mouth = np.exp(-((xx - 125) ** 2 + (yy - 180) ** 2) / (2 * 18.0**2))
            dx = 4.0 * math.sin(k / 2) * nose
            dy = 3.0 * math.sin(k / 1.5) * mouth
            src = cv2.remap(img, xx - dx, yy - dy, cv2.INTER_LINEAR)
        a = 0.04 * math.sin(k / 3)
        hm = np.array(
            [
                [1.4 * math.cos(a), -1.4 * math.sin(a), 195 + 2 * k],
                [1.4 * math.sin(a), 1.4 * math.cos(a), 80 + k],
                [1e-4 * math.sin(k / 2), 0, 1],
            ]
        )
        scene = cv2.warpPerspective(src, hm, (640, 480), borderValue=(90, 90, 90))
        frames.append(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY))
        homographies.append(hm)
    return frames, homographies


def observations_of(points: np.ndarray, homographies: list[np.ndarray]) -> list[cues.Observation]:
    """The landmarks of the photo wherever each homography puts them."""
    obs = []
    for k, hm in enumerate(homographies):
        p = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), hm)
        p = p.reshape(-1, 2).astype(np.float32)
        box = Box(*p.min(axis=0).tolist(), *p.max(axis=0).tolist())
        obs.append(cues.Observation(k, k / 10, Face(box, p[[36, 45, 30, 48, 54]], 0.9), p))
    return obs


def test_tracked_corners_tell_a_moved_photo_from_a_changing_face(
    lfw: Path, landmarks: Landmarks68
) -> None:
    img = cv2.imread(str(lfw_photo(lfw, "Colin_Powell", 1)))
    points = landmarks.predict(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), face(70, 70, 110))
    measured = {}
    for deform in (False, True):
        grays, homographies = moved_photo(img, 12, deform=deform)
        obs = observations_of(points, homographies)
        measured[deform] = cues.planarity_cue(grays, obs)
    # A plane: the residual is tracking noise, far below how far the face moved.
    assert measured[False]["planar_n"] < -0.8
    assert measured[True]["planar_n"] > measured[False]["planar_n"] + 0.3
    # The photo's own background moves on the same plane as the face.
    assert measured[False]["coplanar"] < -0.8
    none = cues.planarity_cue(grays[:1], obs[:1])  # no pair to compare
    assert math.isnan(none["planar_n"])
    assert math.isnan(none["coplanar"])


def test_a_face_moving_in_front_of_a_still_room_is_not_coplanar_with_it(
    lfw: Path, landmarks: Landmarks68
) -> None:
    img = cv2.imread(str(lfw_photo(lfw, "Colin_Powell", 1)))
    points = landmarks.predict(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), face(70, 70, 110))
    room = cv2.cvtColor(wall(0.1)[0], cv2.COLOR_BGR2GRAY)
    # Only the head (an ellipse around the face) moves; the room behind it stays where it is.
    head = np.zeros(img.shape[:2], np.float32)
    cv2.ellipse(head, (125, 125), (62, 80), 0, 0, 360, 1.0, -1)
    grays, homographies = [], []
    for k in range(12):
        hm = np.array([[1.4, 0, 160 + 3 * k], [0, 1.4, 60 + 2 * k], [0, 0, 1]], np.float64)
        face_layer = cv2.warpPerspective(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), hm, (640, 480))
        alpha = cv2.warpPerspective(head, hm, (640, 480))
        grays.append((alpha * face_layer + (1 - alpha) * room).astype(np.uint8))
        homographies.append(hm)
    still_room = cues.planarity_cue(grays, observations_of(points, homographies))
    assert still_room["coplanar"] > -0.5  # a moving photo with its paper: below -0.8
