"""Following the main face through the sampled frames of a video.

The person being checked is the face the photo endpoints would pick (largest, nearest the centre
among the large ones) where it first appears; from then on each frame's face is the one that
overlaps the last known box best. A face that appears elsewhere is not the same person: a second
person walking into view must not lend their liveness to a printed photo held in front.

A face can also leave the last box without leaving the picture: a phone jerked by the hand
that holds it, or a few frames where motion blur hides it from the detector. Such a face is
taken back when it is about the same size and no farther from where it was last seen than a
head moves in the time it was lost; past ``MAX_GAP_S`` the track stays lost, so a face that
appears a second later is never mistaken for the one that left.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from facegate.core.types import Box, Face

# Below this overlap a detection is another face, or the tracked one after a jump no real head
# makes in 0.1 s between sampled frames.
MIN_IOU = 0.2
# Taking a lost face back: its centre within REACH + SPEED × (time lost) face widths of where
# it was last seen, its width within SIZE of the last width, and lost for at most MAX_GAP_S.
REACH = 1.0
SPEED = 3.0
SIZE = 1.5
MAX_GAP_S = 1.0


def main_face_of(faces: Sequence[Face], width: int, height: int) -> Face:
    """The same rule as the photo endpoints' main face (``FacePipeline.main_face``)."""
    largest = max(faces, key=lambda f: f.box.area)
    large = [f for f in faces if f.box.area >= 0.75 * largest.box.area]

    def off_centre(f: Face) -> float:
        cx = (f.box.left + f.box.right) / 2 - width / 2
        cy = (f.box.top + f.box.bottom) / 2 - height / 2
        return cx * cx + cy * cy

    return min(large, key=off_centre)


def _centre(box: Box) -> tuple[float, float]:
    return (box.left + box.right) / 2, (box.top + box.bottom) / 2


def follow(
    faces: Sequence[Face], last: Face | None, width: int, height: int, lost_s: float = 0.0
) -> Face | None:
    """The tracked face among one frame's ``faces``, given the last one seen (None: not yet)
    ``lost_s`` seconds before this frame's previous sample."""
    if not faces:
        return None
    if last is None:
        return main_face_of(faces, width, height)
    anchor = last.box
    best = max(faces, key=lambda f: f.box.iou(anchor))
    if best.box.iou(anchor) >= MIN_IOU:
        return best
    if lost_s > MAX_GAP_S:
        return None
    cx, cy = _centre(anchor)
    reach = (REACH + SPEED * lost_s) * anchor.width

    def distance(f: Face) -> float:
        fx, fy = _centre(f.box)
        return float(((fx - cx) ** 2 + (fy - cy) ** 2) ** 0.5)

    near = [
        f
        for f in faces
        if distance(f) <= reach and 1 / SIZE <= f.box.width / max(anchor.width, 1e-6) <= SIZE
    ]
    return min(near, key=distance) if near else None


def track_main_face(
    detections: Sequence[Sequence[Face]],
    width: int,
    height: int,
    timestamps: Sequence[float] | None = None,
) -> list[Face | None]:
    """Per frame, the tracked face or None where it is not visible (``timestamps``: the
    frames' times, for taking back a face lost for a moment; without them, 0.1 s apart)."""
    times = list(timestamps) if timestamps is not None else [i / 10 for i in range(len(detections))]
    track: list[Face | None] = []
    last: Face | None = None
    seen_at = 0.0
    for i, faces in enumerate(detections):
        previous = times[i - 1] if i else times[0]
        chosen = follow(faces, last, width, height, max(0.0, previous - seen_at))
        if chosen is not None:
            last, seen_at = chosen, times[i]
        track.append(chosen)
    return track


def visible_seconds(track: Sequence[Face | None], timestamps: Sequence[float]) -> float:
    """Time the tracked face is on screen: each sampled frame stands for the interval up to the
    next sample (the last for one typical interval)."""
    if not timestamps:
        return 0.0
    gaps = [b - a for a, b in itertools.pairwise(timestamps)]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
    spans = [*gaps, typical]
    return float(sum(s for face, s in zip(track, spans, strict=True) if face is not None))
