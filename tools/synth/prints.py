"""Printed-photo attacks: the print as a reflective sheet (ink tone curve and gamut, halftone
or inkjet grain, paper white and fibre, banding, gloss), its layout and size, the hands
holding it, and its pose and motion.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from tools.synth.basics import (
    CLOSE_UP_SHARE,
    CLOTHES,
    F32,
    F64,
    HARD_SHARE,
    MAX_FACE_FRAC,
    MAX_TEX,
    MIN_FACE_PX,
    SHOWING_SHARE,
    SKIN_TONES,
    U8,
    as_f32,
    as_u8,
    chance,
    jitter_colour,
    lin_colour,
    pick,
    srgb_decode,
    sym,
    uni,
)
from tools.synth.camera import Camera, face_room, random_fps, random_size
from tools.synth.data import (
    Data,
    FaceFinder,
    SkipSourceError,
    Source,
    clip_info,
    read_clip,
    read_image,
)
from tools.synth.geometry import (
    Bend,
    Planar,
    Pose,
    Wobble,
    camera_shake,
    face_inside,
    hand_wobble,
    lambert,
    over,
    project,
    propped_wobble,
    random_bend,
    rotation,
    showing_wobble,
    smear,
    still_wobble,
    to_camera,
    warp_patch,
)
from tools.synth.rooms import PLATE_MARGIN, draw_attacker, make_plate
from tools.synth.scene import Scene, Specular, random_specular, warp_into
from tools.synth.shapes import (
    Capsule,
    capsule_layer,
    draw_capsules,
    edge_grip,
    paint,
    poly_mask,
    rounded_rect,
)

BENT_SHARE = 0.3  # prints on a bent, flexing sheet


class PrintScene(Scene):
    """A printed sheet (with the fingers holding it) in front of the room: rigid, or bent into
    a flexing cylinder drawn as planar facets."""

    def __init__(
        self,
        cam: Camera,
        plate: U8,
        bg_gain: float,
        cam_wobble: Wobble,
        bg_depth: float,
        paper: Planar,
        pose: Pose,
        light: F64,
        ambient: float,
        gain: float,
        face_pt: F64,
        gloss: Specular | None,
        back: Planar | None,
        bend: Bend | None = None,
    ) -> None:
        super().__init__(cam, plate, bg_gain, cam_wobble, bg_depth)
        self.paper, self.pose, self.light, self.ambient = paper, pose, light, ambient
        self.face_pt, self.gloss, self.back, self.bend = face_pt, gloss, back, bend
        self.gain = gain / lambert(rotation(*pose.angles), light, ambient)
        self.probe_pts = np.vstack([paper.corners(), face_pt[None]])

    def face_point(self, t: float) -> F64:
        if self.bend is None:
            return self.face_pt
        out: F64 = self.bend.bent(self.face_pt[None], self.bend.curvature(t))[0]
        return out

    def facets(self, t: float) -> list[tuple[Planar, int]]:
        """The planes to draw and where each one's texture starts in the sheet's."""
        if self.bend is None:
            return [(self.paper, 0)]
        return self.bend.facet_planes(self.paper, self.bend.curvature(t))

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        frame, d_obj, pad, rot2, trans2 = self.start_frame(t, exposure)
        gain = self.gain * lambert(rot2, self.light, self.ambient)
        if self.back is not None:
            hom_b = self.back.homography(self.K, rot2, trans2)
            res = warp_patch(self.back.tex, hom_b, self.size, pad)
            if res is not None:
                over(frame, smear(res[0], d_obj), res[1], res[2], gain)
        spec = None
        if self.gloss is not None:
            d = self.pose.angles_at(t) - self.pose.angles
            spec = self.gloss.map(float(d[0]), float(d[1]))
        if self.bend is None:
            res = self._sheet(self.paper, 0, gain, spec, rot2, trans2, pad)
            if res is not None:
                over(frame, smear(res[0], d_obj), res[1], res[2], gain)
            return frame
        layers: list[tuple[F32, int, int]] = []
        for plane, start in self.facets(t):
            normal = np.cross(plane.e2, plane.e1)  # each facet faces its own way
            normal /= np.linalg.norm(normal)
            gain = self.gain * lambert(rot2, self.light, self.ambient, normal)
            res = self._sheet(plane, start, gain, spec, rot2, trans2, pad)
            if res is not None:
                res[0][..., :3] *= gain
                layers.append(res)
        if layers:
            # the facets are joined first and smeared as one sheet: smeared apart, the
            # half-covered seams between them would let the room through
            x0, y0 = min(x for _, x, _ in layers), min(y for _, _, y in layers)
            x1 = max(x + p.shape[1] for p, x, _ in layers)
            y1 = max(y + p.shape[0] for p, _, y in layers)
            sheet = np.zeros((y1 - y0, x1 - x0, 4), np.float32)
            for patch, x, y in layers:
                region = sheet[y - y0 : y - y0 + patch.shape[0], x - x0 : x - x0 + patch.shape[1]]
                region *= 1 - patch[..., 3:4]
                region += patch
            over(frame, smear(sheet, d_obj), x0, y0)
        return frame

    def _sheet(
        self,
        plane: Planar,
        start: int,
        gain: float,
        spec: F32 | None,
        rot2: F64,
        trans2: F64,
        pad: int,
    ) -> tuple[F32, int, int] | None:
        """A plane of the sheet warped into the frame, with the glossy highlight (``start``: the
        plane's first texel in the sheet's texture, along the bend)."""
        hom = plane.homography(self.K, rot2, trans2)
        res = warp_patch(plane.tex, hom, self.size, pad)
        if res is None or spec is None or self.gloss is None:
            return res
        patch, x0, y0 = res
        shift = np.eye(3)  # sheet texel → this plane's texel
        shift[0 if self.bend is None or self.bend.vertical else 1, 2] = -start
        th, tw = self.paper.tex.shape[:2]
        hom_s = hom @ shift @ self.gloss.homography((tw, th))
        sp = warp_into(spec, hom_s, x0, y0, patch.shape[1], patch.shape[0])
        patch = patch.copy()
        patch[..., :3] += sp * patch[..., 3:4] / max(gain, 1e-3)
        return patch, x0, y0

    def probe(self, t: float) -> F64:
        rot, trans = self.object_pose(t)
        return project(self.K, to_camera(rot, trans, self.probe_pts))


def halftone(rng: np.random.Generator, photo: F32, kind: str, pitch: float) -> F32:
    """CMY halftone of an sRGB 0–1 image: AM dot screens (``pitch`` texels) or inkjet grain."""
    h, w = photo.shape[:2]
    ink = 1 - photo
    if kind == "am":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = uni(rng, 0, 90)
        sharp = uni(rng, 2.5, 6)
        for c, ang in zip((0, 1, 2), (0.0, 75.0, 15.0), strict=True):  # yellow, magenta, cyan
            a = math.radians(ang + base)
            k = 2 * math.pi / pitch
            u = (xx * math.cos(a) + yy * math.sin(a)) * k
            v = (-xx * math.sin(a) + yy * math.cos(a)) * k
            thr = 0.5 - 0.25 * (np.cos(u) + np.cos(v))
            ink[..., c] = np.clip((ink[..., c] - thr) * sharp + 0.5, 0, 1)
    else:
        # stochastic (inkjet) dither: droplets far smaller than a texel; what survives the
        # camera's averaging is binomial grain, strongest in mid-tones
        grain = uni(rng, 0.15, 0.4)
        for c in range(3):
            n = as_f32(cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0), 0.6))
            n /= max(float(n.std()), 1e-6)
            cov = np.clip(ink[..., c], 0, 1)
            ink[..., c] = np.clip(cov + grain * np.sqrt(cov * (1 - cov)) * n, 0, 1)
    out: F32 = (1 - ink).astype(np.float32)
    return out


def face_cut_outline(
    rng: np.random.Generator, cx: float, cy: float, ax: float, ay: float, neck: bool
) -> F64:
    """A scissor cut around a head (straight segments, small deviations), with the shoulders."""
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    pts = np.column_stack([cx + ax * np.cos(t), cy + ay * np.sin(t)])
    if neck:
        spread = uni(rng, 1.3, 1.9)
        drop = uni(rng, 1.35, 1.7)
        pts = np.vstack(
            [pts, [[cx - spread * ax, cy + drop * ay], [cx + spread * ax, cy + drop * ay]]]
        )
    hull = cv2.convexHull(pts.astype(np.float32))[:, 0, :].astype(np.float64)
    # cut with 12–24 straight snips
    n = int(rng.integers(12, 25))
    idx = np.sort(rng.choice(len(hull), size=min(n, len(hull)), replace=False))
    out: F64 = hull[idx] * (1 + rng.normal(0, 0.01, (len(idx), 1))) + rng.normal(
        0, 0.01 * ax, (len(idx), 2)
    )
    return out


def build_print(
    rng: np.random.Generator,
    data: Data,
    finder: FaceFinder,
    src: Source,
    hard: bool,
    seconds: float,
) -> tuple[Scene, Camera, int, dict[str, Any]]:
    """A printed-photo attack: (scene, camera, frame count, what was drawn at random).

    Raises ``SkipSourceError`` when the source has no usable face.
    """
    params: dict[str, Any] = {}
    if src.dataset == "clip":
        _, dur = clip_info(data.root / src.path)
        t_src = uni(rng, 0, max(dur - 0.2, 0.05))
        frames, _ = read_clip(data.root / src.path, t_src, 0.0)
        if not frames:
            raise SkipSourceError(f"{src.path}: no frame at {t_src:.2f} s")
        img = frames[0]
        params["clip"] = {"path": src.path, "start_s": round(t_src, 3), "seconds": 0.0}
    else:
        img = read_image(data.root / src.path)
    face = finder.largest(img)
    if face is None:
        raise SkipSourceError(f"{src.path}: no face found")
    fx, fy, fw, fh, _ = face
    if fw < 24:
        raise SkipSourceError(f"{src.path}: face too small ({fw:.0f} px)")
    src_h, src_w = img.shape[:2]
    fcx, fcy = fx + fw / 2, fy + fh / 2

    # a sheet filling the frame is held the way the photo is oriented; for a close-up, the
    # photo is cropped to a head and shoulders
    close_up = hard and chance(rng, CLOSE_UP_SHARE)
    portrait = src_w / src_h < 0.9 if hard and not close_up else chance(rng, 0.2)
    img_w, img_h = random_size(rng, portrait)
    fps = random_fps(rng)
    cam = Camera.random(rng, img_w, img_h, fps)
    f = float(cam.K[0, 0])
    room = face_room(img_w, img_h)

    # ---- what is printed
    cover = uni(rng, 1.12, 1.3)  # how far a frame-filling sheet reaches beyond the frame
    if hard:  # printed to the frame's shape, so that it covers the frame around the face
        layout = "close_up" if close_up else "frame_crop"
    else:
        layout = pick(rng, ["full", "portrait", "face_cut"], p=[0.3, 0.45, 0.25])
    cut: F64 | None = None
    if layout == "full":
        x0, y0, cw, ch = 0.0, 0.0, float(src_w), float(src_h)
    elif hard:
        # the largest such crop, or one that makes the face 45–70 % of the frame's width
        cw = min(float(src_w), src_h * img_w / img_h)
        if close_up:
            cw = min(cw, fw * cover * img_w / (uni(rng, 0.45, 0.7) * room))
        ch = cw * img_h / img_w * uni(rng, 1.0, 1.12)
        k = min(1.0, src_h / ch)
        cw, ch = cw * k, ch * k
        x0 = float(np.clip(fcx - cw * uni(rng, 0.42, 0.58), 0, src_w - cw))
        y0 = float(np.clip(fcy - ch * uni(rng, 0.4, 0.55), 0, src_h - ch))
    elif layout == "portrait":
        aspect = pick(rng, [0.75, 0.8, 2 / 3, 1.0, 4 / 3])
        cw = fw / uni(rng, 0.3, 0.55)
        ch = cw / aspect
        k = min(1.0, src_w / cw, src_h / ch)
        cw, ch = cw * k, ch * k
        x0 = float(np.clip(fcx - cw * uni(rng, 0.4, 0.6), 0, src_w - cw))
        y0 = float(np.clip(fcy - ch * uni(rng, 0.35, 0.5), 0, src_h - ch))
    else:
        ax, ay = fw * uni(rng, 0.65, 0.82), fh * uni(rng, 0.78, 0.98)
        ecx, ecy = fcx + sym(rng, 0.04 * fw), fcy - fh * uni(rng, 0.0, 0.12)
        neck = chance(rng, 0.5)
        cut = face_cut_outline(rng, ecx, ecy, ax, ay, neck)
        bx0, by0 = cut.min(axis=0) - 4
        bx1, by1 = cut.max(axis=0) + 4
        x0, y0 = max(0.0, float(bx0)), max(0.0, float(by0))
        cw, ch = min(float(src_w), float(bx1)) - x0, min(float(src_h), float(by1)) - y0
        params["neck"] = neck
    crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    ch, cw = crop.shape[:2]

    # ---- how big it will look
    if hard:
        face_px = fw * max(cover * img_w / cw, cover * img_h / ch)
        if face_px > MAX_FACE_FRAC * room:
            raise SkipSourceError(
                f"{src.path}: face too large ({face_px / img_w:.0%}) to fill the frame with it"
            )
    else:
        face_px = uni(rng, max(0.15, MIN_FACE_PX / room), 0.45) * room
    screen_kind = pick(rng, ["none", "am", "dither"], p=[0.4, 0.35, 0.25])
    # texels per output pixel at rest (finer for halftones, whose dots must be drawn)
    ss = uni(rng, 1.3, 2.0) if screen_kind == "none" else uni(rng, 2.2, 3.2)
    scale = face_px * ss / fw
    if max(cw, ch) * scale > MAX_TEX:
        scale = MAX_TEX / max(cw, ch)
        ss = scale * fw / face_px
    tw, th = max(2, round(cw * scale)), max(2, round(ch * scale))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    photo = cv2.resize(crop, (tw, th), interpolation=interp).astype(np.float32) / 255.0

    # ---- the printing process: ink tone curve and gamut, dots, paper and ink reflectance
    levels = chance(rng, 0.6)
    if levels:  # the photo was auto-levelled before printing
        lo, hi = np.percentile(photo, [0.5, 99.5])
        photo = (photo - lo) / max(float(hi - lo), 0.2)
    gamma_p, sat = uni(rng, 0.85, 1.15), uni(rng, 0.7, 1.0)
    photo = np.clip(photo, 0, 1) ** gamma_p
    gray = photo.mean(axis=2, keepdims=True)
    photo = gray + sat * (photo - gray)
    dot_px = math.exp(uni(rng, math.log(0.7), math.log(2.2)))  # AM period, output px at rest
    pitch = max(2.0, dot_px * ss)
    if screen_kind != "none":
        photo = halftone(rng, photo, screen_kind, pitch)
    lin = srgb_decode(np.clip(photo, 0, 1).astype(np.float64)).astype(np.float32)
    warm = uni(rng, 0.15, 1.0)
    white = uni(rng, 0.72, 0.88) * np.array([1 - 0.12 * warm, 1 - 0.035 * warm, 1.0], np.float32)
    black = uni(rng, 0.015, 0.05) * (1 + rng.uniform(-0.15, 0.15, 3)).astype(np.float32)
    refl = (black + (white - black) * lin).astype(np.float32)
    # ink spread / print softness, and the camera pixel's aperture over the static texture
    blur = uni(rng, 0.2, 0.7) * ss
    if screen_kind != "none":
        blur = math.hypot(uni(rng, 0.15, 0.35) * pitch, uni(rng, 0.35, 0.5) * ss)
    refl = as_f32(cv2.GaussianBlur(refl, (0, 0), blur))

    border = (not hard) and layout != "face_cut" and chance(rng, 0.55)
    if border:
        big = max(tw, th)
        m = [uni(rng, 0.03, 0.15) * big for _ in range(4)]  # left, top, right, bottom
        if chance(rng, 0.3):  # the photo printed on a larger sheet, off-centre
            m[pick(rng, [1, 3])] += uni(rng, 0.1, 0.4) * big
        l_, t_, r_, b_ = (round(v) for v in m)
        paper = np.empty((th + t_ + b_, tw + l_ + r_, 3), np.float32)
        paper[:] = white
        paper[t_ : t_ + th, l_ : l_ + tw] = refl
        params["margin_texels"] = [l_, t_, r_, b_]
    else:
        paper = refl
        l_ = t_ = 0
    ph, pw = paper.shape[:2]
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (ph, pw)).astype(np.float32), (0, 0), 1.0)
    paper *= (1 + uni(rng, 0.004, 0.015) * fibre)[..., None]
    if chance(rng, 0.2):  # printer banding across the feed direction
        rows = np.arange(ph, dtype=np.float32)
        paper *= (
            1 + uni(rng, 0.01, 0.04) * np.sin(2 * np.pi * rows / uni(rng, 5, 40) + uni(rng, 0, 6))
        )[:, None, None]
        params["banding"] = True
    ang = uni(rng, 0, 2 * np.pi)
    gy, gx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    grad = uni(rng, 0.0, 0.25)
    paper *= (1 + grad * ((gx / pw - 0.5) * math.cos(ang) + (gy / ph - 0.5) * math.sin(ang)))[
        ..., None
    ]
    if cut is not None:
        outline = (cut - np.array([x0, y0])) * scale
        alpha = poly_mask((ph, pw), outline)
    else:
        alpha = poly_mask((ph, pw), rounded_rect(0, 0, pw, ph, uni(rng, 0, 0.012) * min(pw, ph)))

    # ---- physical size and distance
    face_tex = fw * scale
    fu, fv = (fcx - x0) * scale + l_, (fcy - y0) * scale + t_
    if layout == "face_cut":
        size_mm = uni(rng, 80, 260)
    elif border:
        size_mm = uni(rng, 100, 300)
    else:
        size_mm = uni(rng, 90, 300)
    mm = size_mm / max(pw, ph)
    dist = f * face_tex * mm / face_px
    if not 150 <= dist <= 900 and not hard:
        dist = float(np.clip(dist, 150, 900))
        mm = dist * face_px / (f * face_tex)
    if hard:  # held 15–35 cm away (an A4 sheet fills a webcam's view at about 20 cm)
        dist = uni(rng, 150, 350)
        mm = dist * face_px / (f * face_tex)

    # ---- hands, on a padded canvas
    holder = "hand" if hard else pick(rng, ["hand", "propped"], p=[0.85, 0.15])
    hands: list[str] = []
    skin = lin_colour(jitter_colour(rng, pick(rng, SKIN_TONES), 0.06))
    big_enough = min(pw, ph) * mm >= 120  # thumbs on a small photo would hide the face
    if holder == "hand" and not hard and layout != "face_cut" and big_enough and chance(rng, 0.6):
        hands = pick(
            rng,
            [
                ["left", "right"],
                ["bottom"],
                ["right"],
                ["left"],
                ["bottom", "right"],
                ["left", "right"],
            ],
        )
    # object frame: origin at the paper centre, mm
    reach = 1.1 * math.hypot(img_w, img_h) * dist / f  # an arm this long leaves the picture
    sleeved = chance(rng, 0.5)
    sleeve = lin_colour(jitter_colour(rng, pick(rng, CLOTHES), 0.15))
    half_w, half_h = pw * mm / 2, ph * mm / 2
    rect_mm = (-half_w, -half_h, half_w, half_h)
    behind: list[Capsule] = []
    fronts: list[Capsule] = []
    for edge in hands:
        b_caps, f_caps = edge_grip(rng, edge, uni(rng, 0.3, 0.7), rect_mm, reach, sleeved)
        behind += b_caps
        fronts += f_caps
    pad = round(45 / mm) if hands else 0
    canvas = np.zeros((ph + 2 * pad, pw + 2 * pad, 4), np.float32)
    paint(canvas[pad : pad + ph, pad : pad + pw], alpha, paper)
    origin = np.array([-half_w - pad * mm, -half_h - pad * mm, 0.0])
    draw_capsules(canvas, fronts, skin, (float(origin[0]), float(origin[1])), 1 / mm)
    paper_pl = Planar(canvas, mm, origin)
    face_pt = paper_pl.point(pad + fu, pad + fv)
    back = capsule_layer(behind, skin, sleeve, f / dist, reach + 200)
    bend = random_bend(rng, pw * mm, ph * mm) if chance(rng, BENT_SHARE) else None
    # the sheet's outline: its corners, or for a bent sheet points along its edges
    rim = paper_pl.corners()
    if bend is not None:
        rim = np.vstack(
            [
                rim[k] + (rim[(k + 1) % 4] - rim[k]) * a
                for k in range(4)
                for a in np.linspace(0, 1, bend.facets, endpoint=False)
            ]
        )

    def face_at(t: float) -> F64:
        if bend is None:
            return face_pt
        out: F64 = bend.bent(face_pt[None], bend.curvature(t))[0]
        return out

    def rim_at(t: float) -> F64:
        return rim if bend is None else bend.bent(rim, bend.curvature(t))

    # ---- pose, motion
    lim = (6.0, 6.0, 4.0) if hard else (15.0, 15.0, 10.0)
    angles = np.array([sym(rng, lim[0]), sym(rng, lim[1]), sym(rng, lim[2])])
    rot0 = rotation(*angles)
    if hard:
        target = (img_w / 2 + sym(rng, 0.05 * img_w), img_h / 2 + sym(rng, 0.05 * img_h))
    else:
        target = (
            img_w / 2 + sym(rng, 0.12 * img_w),
            img_h / 2 - 0.03 * img_h + sym(rng, 0.1 * img_h),
        )
    ray = np.linalg.inv(cam.K) @ np.array([target[0], target[1], 1.0])
    cam_mode = (
        "handheld" if holder == "propped" else pick(rng, ["static", "handheld"], p=[0.62, 0.38])
    )
    # someone showing the sheet to the camera turns and moves it a lot (not when it must fill
    # the frame throughout)
    showing = holder == "hand" and not hard and chance(rng, SHOWING_SHARE / (1 - HARD_SHARE))
    if showing:
        wob = showing_wobble(rng, seconds)
    else:
        wob = hand_wobble(rng, seconds) if holder == "hand" else propped_wobble(rng, seconds)
    cam_wob = camera_shake(rng, seconds) if cam_mode == "handheld" else still_wobble()
    n_frames = max(2, round(seconds * fps))
    times = np.arange(n_frames) / fps

    def placed(depth: float) -> Pose:
        # a sheet filling the frame is centred on it (its face need not be), other sheets are
        # placed by their face
        anchor = np.zeros(3) if hard else face_at(0.0)
        return Pose(angles, depth * ray - rot0 @ anchor, wob)

    def seen(t: float) -> tuple[F64, F64]:
        """The sheet's attitude and position as the camera sees it at ``t``."""
        rot_c, tc = rotation(*cam_wob.at(t)[:3]), cam_wob.at(t)[3:]
        rot, trans = pose.at(t)
        return rot_c @ rot, rot_c @ trans + tc

    pose = placed(dist)
    checks = [*times[:: max(1, len(times) // 24)].tolist(), float(times[-1])]
    frame_c = np.array([[1, 1], [img_w - 2, 1], [img_w - 2, img_h - 2], [1, img_h - 2]], np.float64)
    for tries in range(30):
        pts_ok = True
        for t in checks:
            rot2, trans2 = seen(t)
            if hard:
                outline = project(cam.K, to_camera(rot2, trans2, rim_at(t))).astype(np.float32)
                if any(
                    cv2.pointPolygonTest(outline, (float(x), float(y)), True) < 3
                    for x, y in frame_c
                ):
                    pts_ok = False
                    break
            else:
                fp = project(cam.K, to_camera(rot2, trans2, face_at(t)[None]))[0]
                if not face_inside(fp, face_px, img_w, img_h):
                    pts_ok = False
                    break
        if pts_ok:
            break
        if hard:
            dist *= 0.95
            pose = placed(dist)
        else:
            wob = wob.damped(0.6, turns=not showing or tries >= 15)
            cam_wob = cam_wob.damped(0.6)
            pose = placed(dist)
    if hard:  # moved closer to cover the frame: its face must still be seen, and not too large
        face_px = f * face_tex * mm / dist
        if face_px > MAX_FACE_FRAC * room * 1.1:
            raise SkipSourceError(f"{src.path}: face too large ({face_px / img_w:.0%}) up close")
        for t in checks:
            rot2, trans2 = seen(t)
            fp = project(cam.K, to_camera(rot2, trans2, face_at(t)[None]))[0]
            # a close-up's face may overflow the frame a little (it is still found), but its
            # centre must stay well inside
            if not face_inside(fp, 0.6 * face_px, img_w, img_h):
                raise SkipSourceError(f"{src.path}: face off the frame of a frame-filling sheet")
    face_frac = float(f * face_tex * mm / dist / img_w)

    # ---- room, light
    pw_plate, ph_plate = round(img_w * PLATE_MARGIN), round(img_h * PLATE_MARGIN)
    plate, plate_info = make_plate(rng, data, finder, pw_plate, ph_plate)
    bg_depth = uni(rng, 1500, 4000)
    if holder == "hand" and chance(rng, 0.55):
        # the attacker's torso 25–45 cm behind the paper, head hidden if the paper is big enough
        body_z = dist + uni(rng, 250, 450)
        s_img = f / body_z
        paper_h_img = f * ph * mm / dist
        if paper_h_img > 230 * s_img * 1.05:
            sc = PLATE_MARGIN * img_w / pw_plate
            off = np.array([img_w / 2 - sc * pw_plate / 2, img_h / 2 - sc * ph_plate / 2])
            rot, trans = pose.at(0.0)
            centre_img = project(cam.K, to_camera(rot, trans, np.array([[0.0, 0.0, 0.0]])))[0]
            centre_plate = (centre_img - off) / sc
            top = float(centre_plate[1] + (120 * s_img + sym(rng, 20) * s_img) / sc)
            plate_info.update(
                draw_attacker(
                    rng,
                    plate,
                    top,
                    float(centre_plate[0] + sym(rng, 30 * s_img)),
                    450 * s_img / sc * uni(rng, 0.85, 1.15),
                )
            )
    defocus = uni(rng, 0.8, 4.0)
    plate = as_u8(cv2.GaussianBlur(plate, (0, 0), defocus))
    light = np.array([sym(rng, 0.6), -uni(rng, 0.2, 0.9), -1.0])
    light /= np.linalg.norm(light)
    ambient = uni(rng, 0.35, 0.7)
    bg_gain = uni(rng, 0.55, 1.0)
    paper_gain = bg_gain * uni(rng, 0.9, 1.5)
    gloss = None
    if chance(rng, 0.3):
        gloss = random_specular(rng, (0.02, 0.12), None, 0.0)
    scene = PrintScene(
        cam,
        plate,
        bg_gain,
        cam_wob,
        bg_depth,
        paper_pl,
        pose,
        light,
        ambient,
        paper_gain,
        face_pt,
        gloss,
        back,
        bend,
    )

    params.update(
        {
            "size": [img_w, img_h],
            "close_up": close_up,
            "layout": layout,
            "border": border,
            "face_frac": round(face_frac, 3),
            "paper_mm": [round(pw * mm, 1), round(ph * mm, 1)],
            "distance_mm": round(dist, 1),
            "pose_deg": [round(float(a), 2) for a in angles],
            "holder": holder,
            "hands": hands,
            "bend": bend.describe() if bend else None,
            "camera_motion": cam_mode,
            "object_motion": wob.describe(),
            "showing": showing,
            "object_sweep": wob.sweep(seconds) if showing else None,
            "camera_shake": cam_wob.describe(),
            "print": {
                "auto_levels": levels,
                "gamma": round(gamma_p, 3),
                "saturation": round(sat, 3),
                "halftone": screen_kind,
                "halftone_period_px": round(pitch / ss, 2) if screen_kind == "am" else None,
                "blur_texels": round(blur, 2),
                "texels_per_px": round(ss, 2),
                "paper_white": [round(float(v), 3) for v in white],
                "ink_black": [round(float(v), 3) for v in black],
                "light_gradient": round(grad, 3),
                "gloss": gloss.describe() if gloss else None,
            },
            "light": {
                "ambient": round(ambient, 3),
                "paper_gain": round(paper_gain, 3),
                "background_gain": round(bg_gain, 3),
            },
            "background": {
                **plate_info,
                "defocus_px": round(defocus, 2),
                "depth_mm": round(bg_depth),
            },
            "camera": cam.params,
        }
    )
    return scene, cam, n_frames, params
