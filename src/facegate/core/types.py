"""Plain result types shared by the pipeline, the inference interface and the API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels; right and bottom are exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def clip(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.left, 0.0), width),
            min(max(self.top, 0.0), height),
            min(max(self.right, 0.0), width),
            min(max(self.bottom, 0.0), height),
        )

    def as_ints(self) -> tuple[int, int, int, int]:
        return (round(self.left), round(self.top), round(self.right), round(self.bottom))


@dataclass(frozen=True, slots=True)
class Face:
    """A detected face: box, five landmarks (right eye, left eye, nose, right and left mouth
    corners in image order as YuNet gives them) and the detector's confidence."""

    box: Box
    landmarks: FloatArray  # shape (5, 2)
    score: float


@dataclass(frozen=True, slots=True)
class Pose:
    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True, slots=True)
class Occlusion:
    """Visible fraction of each region in [0, 1]; 1 = fully visible."""

    left_eye: float
    right_eye: float
    nose: float
    mouth: float
    total: float


@dataclass(frozen=True, slots=True)
class FaceQuality:
    rect: Box
    pose: Pose
    occlusion: Occlusion
    distance2center: float
    size: float
    brightness: float
    sharpness: float
    mouth_open: float
    integrity: float


@dataclass(frozen=True, slots=True)
class VerifyResult:
    score: float
    similarity: float


@dataclass(frozen=True, slots=True)
class MultiFaceResult:
    scores: list[list[float]]
    first_rects: list[Box]
    second_rects: list[Box]


@dataclass(frozen=True, slots=True)
class QualityResult:
    faces: list[FaceQuality]


@dataclass(frozen=True, slots=True)
class LivenessOutcome:
    """Silent liveness of a video as the API reports it; the images are JPEG bytes, present only
    when asked for and when the check passed."""

    passed: bool
    score: float
    status: str  # "ok", "hack" or "short_time"
    image_timestamp: float | None = None
    image_jpeg: bytes | None = None
    face_jpeg: bytes | None = None
    # Why it was refused as an attack: the expert that decided and its strongest cues (for
    # logs and metrics; the SenseID response keeps the manual's fields only).
    refused_by: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SilentVerifyResult:
    liveness: LivenessOutcome
    verification_score: float | None  # None unless the liveness check passed


@dataclass(frozen=True, slots=True)
class PackageVerifyResult:
    verification_score: float
    liveness_score: float  # the server's own, on the package's frames
    actions: tuple[tuple[str, float], ...]  # each claimed action and the level seen (≥ 1)
    hack_score: float = 0.0  # 0 … 1, above 0.5 an attack (package_check.hack_score)
    attack: str = ""  # why the package is taken for an attack; empty when it passed
    refused_by: str = ""  # the check that refused it: "print", "replay", "action", "identity"
    evidence: tuple[str, ...] = ()  # a refusing expert's strongest cues

    @property
    def passed(self) -> bool:
        return not self.attack
