"""Following the main face through the sampled frames of a video.

The person being checked is the face the photo endpoints would pick (largest, nearest the centre
among the large ones) where it first appears; from then on each frame's face is the one that
overlaps the last known box best. A face that appears elsewhere is not the same person: a second
person walking into view must not lend their liveness to a printed photo held in front.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from facegate.core.types import Box, Face

# Below this overlap a detection is another face, or the tracked one after a jump no real head
# makes in 0.1 s between sampled frames.
MIN_IOU = 0.2


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    iy = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def main_face_of(faces: Sequence[Face], width: int, height: int) -> Face:
    """The same rule as the photo endpoints' main face (``FacePipeline.main_face``)."""
    largest = max(faces, key=lambda f: f.box.area)
    large = [f for f in faces if f.box.area >= 0.75 * largest.box.area]

    def off_centre(f: Face) -> float:
        cx = (f.box.left + f.box.right) / 2 - width / 2
        cy = (f.box.top + f.box.bottom) / 2 - height / 2
        return cx * cx + cy * cy

    return min(large, key=off_centre)


def follow(faces: Sequence[Face], last: Face | None, width: int, height: int) -> Face | None:
    """The tracked face among one frame's ``faces``, given the last one seen (None: not yet)."""
    if not faces:
        return None
    if last is None:
        return main_face_of(faces, width, height)
    anchor = last.box
    best = max(faces, key=lambda f: iou(f.box, anchor))
    return best if iou(best.box, anchor) >= MIN_IOU else None


def track_main_face(
    detections: Sequence[Sequence[Face]], width: int, height: int
) -> list[Face | None]:
    """Per frame, the tracked face or None where it is not visible."""
    track: list[Face | None] = []
    last: Face | None = None
    for faces in detections:
        chosen = follow(faces, last, width, height)
        if chosen is not None:
            last = chosen
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
