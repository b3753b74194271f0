"""The scene: a defocused room plate far away seen by a camera that may shake, and the glossy
reflections (highlight, mirror image of the room) that slide over a tilting surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tools.synth.basics import F32, F64, U8, as_f32, jitter_colour, lin_colour, linear, pick, uni
from tools.synth.camera import Camera
from tools.synth.geometry import Pose, Wobble, project, rotation, smear, to_camera
from tools.synth.rooms import PLATE_MARGIN


class Scene:
    """Background plate far away, seen by a camera that may shake; subclasses add objects."""

    def __init__(
        self, cam: Camera, plate: U8, bg_gain: float, cam_wobble: Wobble, bg_depth: float
    ) -> None:
        self.cam = cam
        self.K = cam.K
        self.Kinv = np.linalg.inv(cam.K)
        self.size = (cam.W, cam.H)
        self.plate = linear(plate) * bg_gain
        ph, pw = plate.shape[:2]
        s = PLATE_MARGIN * cam.W / pw  # the plate is PLATE_MARGIN times wider than the frame
        self.plate_H = np.array(
            [[s, 0, cam.W / 2 - s * pw / 2], [0, s, cam.H / 2 - s * ph / 2], [0, 0, 1]]
        )
        self.cam_wobble = cam_wobble
        self.bg_depth = bg_depth
        self._still_bg: F32 | None = None

    def camera_pose(self, t: float) -> tuple[F64, F64]:
        w = self.cam_wobble.at(t)
        return rotation(*w[:3]), w[3:]

    def background(self, rot_c: F64, tc: F64) -> F32:
        """The room seen by the camera in pose (rot_c, tc); a new array the caller may draw on."""
        if self._still_bg is not None:
            return self._still_bg.copy()
        n = np.array([0.0, 0.0, 1.0])
        hom_c = self.K @ (rot_c + np.outer(tc, n) / self.bg_depth) @ self.Kinv @ self.plate_H
        out = cv2.warpPerspective(
            self.plate, hom_c, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        if self.cam_wobble.is_still():  # a camera on a stand sees the same room every frame
            self._still_bg = as_f32(out)
            return self._still_bg.copy()
        return as_f32(out)

    face_pt: F64  # the attack face's centre in the object frame (mm)

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        """The scene's linear radiance at time ``t`` (the screen showing ``content_t``),
        smeared by the motion during ``exposure`` seconds."""
        raise NotImplementedError

    def motion(self, t: float, exposure: float) -> tuple[F64, F64]:
        """Image displacement during the exposure of the room (frame centre) and of the object."""
        zero = np.zeros(2)
        if exposure <= 0:
            return zero, zero
        a, b = self.face_image(t - exposure / 2), self.face_image(t + exposure / 2)
        obj = np.array([b[0] - a[0], b[1] - a[1]])
        if self.cam_wobble.is_still():
            return zero, obj
        centre = np.array([(self.size[0] - 1) / 2, (self.size[1] - 1) / 2, 1.0])
        pts = []
        for tt in (t - exposure / 2, t + exposure / 2):
            rot_c, tc = self.camera_pose(tt)
            n = np.array([0.0, 0.0, 1.0])
            hom = self.K @ (rot_c + np.outer(tc, n) / self.bg_depth) @ self.Kinv
            q = hom @ centre
            pts.append(q[:2] / q[2])
        return pts[1] - pts[0], obj

    def probe(self, t: float) -> F64:
        """Image points whose motion decides the motion blur."""
        raise NotImplementedError

    pose: Pose  # the held object's own motion, in camera coordinates before camera shake

    def object_pose(self, t: float) -> tuple[F64, F64]:
        """The object's rotation and translation as the (possibly shaking) camera sees it."""
        rot_c, tc = self.camera_pose(t)
        rot, trans = self.pose.at(t)
        return rot_c @ rot, rot_c @ trans + tc

    def start_frame(self, t: float, exposure: float) -> tuple[F32, F64, int, F64, F64]:
        """The smeared background at ``t``, the object's motion over the exposure, the padding
        that motion needs, and the object's pose in camera coordinates."""
        rot_c, tc = self.camera_pose(t)
        d_bg, d_obj = self.motion(t, exposure)
        frame = smear(self.background(rot_c, tc), d_bg, cv2.BORDER_REFLECT)
        pad = math.ceil(float(np.hypot(*d_obj)) / 2) + 1
        rot2, trans2 = self.object_pose(t)
        return frame, d_obj, pad, rot2, trans2

    def face_point(self, t: float) -> F64:
        """The attack face's centre in the object frame at time ``t`` (mm)."""
        return self.face_pt

    def face_image(self, t: float) -> tuple[float, float]:
        """Where the attack face's centre is in the image at time ``t``."""
        rot, trans = self.object_pose(t)
        p = project(self.K, to_camera(rot, trans, self.face_point(t)[None]))[0]
        return float(p[0]), float(p[1])


@dataclass
class Specular:
    """Light reflected by a glossy surface, in the surface's normalised coordinates (0–1).

    A highlight (blob, band or broad gradient) and, optionally, a faint mirror image of the room;
    both slide across the surface as it turns (``slide`` per degree of yaw/pitch).
    """

    kind: str
    centre: tuple[float, float]
    sigma: tuple[float, float]
    angle: float
    strength: float
    slide: float
    tint: F32
    reflection: F32 | None = None
    grid: tuple[int, int] = (64, 48)

    def __post_init__(self) -> None:
        gw, gh = self.grid
        yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
        self._u = (xx + 0.5) / gw
        self._v = (yy + 0.5) / gh

    def map(self, dyaw: float, dpitch: float) -> F32:
        gw, gh = self.grid
        cx = self.centre[0] + self.slide * dyaw
        cy = self.centre[1] + self.slide * dpitch
        a = math.radians(self.angle)
        du, dv = self._u - cx, self._v - cy
        x = du * math.cos(a) + dv * math.sin(a)
        y = -du * math.sin(a) + dv * math.cos(a)
        if self.kind == "blob":
            g = np.exp(-0.5 * ((x / self.sigma[0]) ** 2 + (y / self.sigma[1]) ** 2))
        elif self.kind == "band":
            g = np.exp(-0.5 * (x / self.sigma[0]) ** 2)
        elif self.kind == "gradient":
            g = np.clip(0.5 + x / (2 * self.sigma[0]), 0, 1) ** 2
        else:
            g = np.zeros_like(x)
        out = (g * self.strength)[..., None] * self.tint
        if self.reflection is not None:
            m = np.array(
                [[1, 0, -self.slide * dyaw * gw * 2], [0, 1, -self.slide * dpitch * gh * 2]]
            )
            refl = cv2.warpAffine(self.reflection, m, (gw, gh), borderMode=cv2.BORDER_REFLECT)
            out = out + refl
        res: F32 = out.astype(np.float32)
        return res

    def homography(self, tex_size: tuple[int, int]) -> F64:
        """Specular grid cell → texel of a texture of ``tex_size`` (w, h)."""
        sx, sy = tex_size[0] / self.grid[0], tex_size[1] / self.grid[1]
        return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "strength": round(self.strength, 3),
            "sigma": [round(s, 3) for s in self.sigma],
            "slide_per_deg": round(self.slide, 4),
            "room_reflection": self.reflection is not None,
        }


def random_specular(
    rng: np.random.Generator, strength: tuple[float, float], plate: F32 | None, refl: float
) -> Specular:
    kind = pick(rng, ["blob", "band", "gradient"], p=[0.5, 0.25, 0.25])
    reflection = None
    if plate is not None and refl > 0:
        r = cv2.resize(plate[:, ::-1], (64, 48), interpolation=cv2.INTER_AREA)
        reflection = (cv2.GaussianBlur(r, (0, 0), uni(rng, 0.5, 2.0)) * refl).astype(np.float32)
    return Specular(
        kind=kind,
        centre=(uni(rng, -0.1, 1.1), uni(rng, -0.1, 0.8)),
        sigma=(uni(rng, 0.08, 0.35), uni(rng, 0.08, 0.35)),
        angle=uni(rng, 0, 180),
        strength=uni(rng, *strength),
        slide=uni(rng, 0.01, 0.03),
        tint=lin_colour(jitter_colour(rng, (235, 245, 255), 0.06)),
        reflection=reflection,
    )


def warp_into(tex: F32, hom: F64, x0: int, y0: int, w: int, h: int) -> F32:
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    out = cv2.warpPerspective(
        tex, shift @ hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    if out.ndim == 2:
        out = out[..., None]
    res = as_f32(out)
    return res
