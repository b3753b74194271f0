"""Screen-replay attacks: an emissive panel (display transfer, RGB sub-pixel grid as the camera
samples it, content clock, view-angle contrast, glare, refresh banding) in a phone, tablet,
monitor or laptop body, on a desk or in hands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tools.synth.basics import (
    CLOSE_UP_SHARE,
    CLOTHES,
    F32,
    F64,
    HARD_SHARE,
    LUMA,
    MAX_FACE_FRAC,
    MAX_TEX,
    MIN_FACE_PX,
    SHOWING_SHARE,
    SKIN_TONES,
    U8,
    Face,
    as_u8,
    chance,
    jitter_colour,
    lin_colour,
    linear,
    pick,
    sym,
    uni,
)
from tools.synth.camera import Camera, face_room, random_fps, random_size
from tools.synth.data import Data, FaceFinder, SkipSourceError, Source, clip_info, read_clip
from tools.synth.geometry import (
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
    rotation,
    showing_wobble,
    smear,
    still_wobble,
    to_camera,
    warp_patch,
)
from tools.synth.rooms import PLATE_MARGIN, WALLS, make_plate
from tools.synth.scene import Scene, Specular, random_specular, warp_into
from tools.synth.shapes import (
    Capsule,
    capsule_layer,
    draw_capsules,
    edge_grip,
    ellipse_poly,
    paint,
    phone_grip,
    poly_mask,
    rounded_rect,
)

CLIP_MAX_SIDE = 1280  # replayed clips are shrunk to this (the screen texture needs no more)


@dataclass
class SubpixelGrid:
    """The panel's RGB stripe triads (one per screen pixel) and row gaps, as the camera sees them.

    The stripes are band-limited (one sinusoid per colour, phases 0, ⅓, ⅔ of a pixel). The
    camera's pixel aperture and lens blur them with a Gaussian of ``aperture`` output pixels
    before sampling, which multiplies each sinusoid by exp(−2π²σ²f²) at its local frequency f
    (screen pixels per output pixel, from the homography's Jacobian); sampling at the output
    pixels then aliases what is left into moiré. Evaluating this per output pixel is exact for
    such a grid, and is what warping a texture of sub-pixel stripes (2–4 texels per triad) would
    compute, without the texture.
    """

    vertical: bool  # stripes run along the displayed y axis (the panel's native orientation)
    order: tuple[float, float, float]  # phase of the B, G, R stripe, in pixels
    depth: float  # modulation depth of the stripes (sub-pixel fill)
    gap: float  # darkening between pixel rows
    aperture: float  # Gaussian σ of the camera's pixel aperture and lens, output pixels
    cells_per_texel: float  # panel pixels per texel of the content texture
    _grid: tuple[F32, F32] | None = None

    def modulation(self, hom: F64, x0: int, y0: int, w: int, h: int) -> F32:
        """Multiplier (h×w×3) for the warped screen image in the box at (x0, y0)."""
        if self._grid is None or self._grid[0].shape[0] < h or self._grid[0].shape[1] < w:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            self._grid = (xx, yy)
        xx, yy = self._grid[0][:h, :w], self._grid[1][:h, :w]
        inv = np.linalg.inv(hom)
        (a, b, c), (d, e, f_), (g, h_, i) = inv.astype(np.float64).tolist()
        c, f_, i = c + a * x0 + b * y0, f_ + d * x0 + e * y0, i + g * x0 + h_ * y0
        wz = g * xx + h_ * yy + i
        np.reciprocal(wz, out=wz)
        k = self.cells_per_texel
        a, b, c, d, e, f_ = a * k, b * k, c * k, d * k, e * k, f_ * k
        u = (a * xx + b * yy + c) * wz  # panel pixel coordinates of each output pixel
        v = (d * xx + e * yy + f_) * wz
        across, along = (u, v) if self.vertical else (v, u)
        # local frequency of the grid (screen pixels per output pixel), from the Jacobian
        if self.vertical:
            fa = np.hypot((a - u * g) * wz, (b - u * h_) * wz)
            fb = np.hypot((d - v * g) * wz, (e - v * h_) * wz)
        else:
            fa = np.hypot((d - v * g) * wz, (e - v * h_) * wz)
            fb = np.hypot((a - u * g) * wz, (b - u * h_) * wz)
        mtf = -2 * math.pi**2 * self.aperture**2
        amp = self.depth * np.exp(mtf * fa * fa)
        rows = 1 - self.gap * (0.5 + 0.5 * np.exp(mtf * fb * fb) * np.cos(2 * np.pi * along))
        rows /= 1 - self.gap / 2
        out = np.empty((h, w, 3), np.float32)
        for ch in range(3):
            out[..., ch] = (1 + amp * np.cos(2 * np.pi * (across - self.order[ch]))) * rows
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "stripes": "vertical" if self.vertical else "horizontal",
            "depth": round(self.depth, 3),
            "row_gap": round(self.gap, 3),
            "camera_aperture_px": round(self.aperture, 3),
        }


@dataclass
class Screen:
    """A display panel: content layout, display transfer, pixel grid, content clock."""

    planar: Planar  # one texel per screen pixel; the texels are replaced per content frame
    frames: list[U8]
    times: F64  # when each frame comes on (s, from the start of the video)
    src_fps: float
    content_fps: float
    content_phase: float
    canvas: U8  # screen pixels without the video (black bars, desktop, window chrome)
    dest: tuple[int, int, int, int]  # video rectangle in screen pixels
    crop: tuple[int, int, int, int]  # part of the clip frame shown
    luts: F32  # (3, 256) sRGB code → linear emission per channel
    saturation: float
    grid: SubpixelGrid
    progress: tuple[int, int, int] | None  # a progress bar: y, x0, x1 in screen pixels
    _idx: int = -1
    _tex: F32 | None = None
    _base: F32 | None = None

    def emission(self, img: U8) -> F32:
        """Linear light emitted for sRGB pixel values (display transfer and saturation)."""
        em = np.empty(img.shape, np.float32)
        for c in range(3):
            em[..., c] = self.luts[c][img[..., c]]
        if self.saturation != 1.0:
            lum = (em @ LUMA)[..., None]
            em -= lum
            em *= self.saturation
            em += lum
            np.maximum(em, 0, out=em)
        return em

    def frame_index(self, t: float) -> int:
        shown = t
        if self.content_fps < self.src_fps - 0.01:  # the player drops to its own rate
            shown = math.floor(t * self.content_fps + self.content_phase) / self.content_fps
        return max(0, int(np.searchsorted(self.times, shown + 1e-6, side="right")) - 1)

    def texture(self, t: float) -> F32:
        """Linear emission of every screen pixel at time ``t``."""
        idx = self.frame_index(t)
        if idx == self._idx and self._tex is not None:
            return self._tex
        if self._base is None:
            self._base = self.emission(self.canvas)
        x, y, w, h = self.dest
        cx, cy, cw, ch = self.crop
        src = self.frames[idx][cy : cy + ch, cx : cx + cw]
        interp = cv2.INTER_AREA if w < cw else cv2.INTER_LINEAR
        video = as_u8(cv2.resize(src, (w, h), interpolation=interp))
        if self.progress is not None:
            py, px0, px1 = self.progress
            py, px0, px1 = py - y, px0 - x, px1 - x
            frac = idx / max(len(self.frames) - 1, 1)
            thick = max(1, h // 120)
            cv2.line(video, (px0, py), (px1, py), (200, 200, 200), thick)
            end = int(px0 + (px1 - px0) * (0.2 + 0.3 * frac))
            cv2.line(video, (px0, py), (end, py), (40, 40, 230), thick)
        em = self._base.copy()
        em[y : y + h, x : x + w] = self.emission(video)
        self._idx, self._tex = idx, em
        return em


class ReplayScene(Scene):
    """A phone/tablet/monitor/laptop showing the clip, in front of the room."""

    def __init__(
        self,
        cam: Camera,
        plate: U8,
        bg_gain: float,
        cam_wobble: Wobble,
        bg_depth: float,
        body: Planar,
        screen: Screen,
        pose: Pose,
        light: F64,
        ambient: float,
        body_gain: float,
        desk: Planar | None,
        deck: Planar | None,
        spec: Specular | None,
        banding: tuple[float, float, float, float] | None,
        view_loss: float,
        face_pt: F64,
        back: Planar | None,
    ) -> None:
        super().__init__(cam, plate, bg_gain, cam_wobble, bg_depth)
        self.body, self.screen, self.pose, self.light, self.ambient = (
            body,
            screen,
            pose,
            light,
            ambient,
        )
        self.body_gain = body_gain / lambert(rotation(*pose.angles), light, ambient)
        self.desk, self.deck, self.spec, self.banding, self.view_loss = (
            desk,
            deck,
            spec,
            banding,
            view_loss,
        )
        self.face_pt, self.back = face_pt, back
        self.screen_corners = screen.planar.corners()
        self.screen_centre = self.screen_corners.mean(axis=0)
        self.probe_pts = np.vstack([body.corners(), face_pt[None]])

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        frame, d_obj, pad, rot2, trans2 = self.start_frame(t, exposure)
        shade = self.body_gain * lambert(rot2, self.light, self.ambient)

        def layer(plane: Planar | None, gain: float) -> None:
            if plane is not None:
                res = warp_patch(plane.tex, plane.homography(self.K, rot2, trans2), self.size, pad)
                if res is not None:
                    over(frame, smear(res[0], d_obj), res[1], res[2], gain)

        if self.desk is not None:
            layer(self.desk, self.body_gain * uni_gain(self.light, rot2, self.desk))
        layer(self.back, shade)
        self._render_screen(frame, rot2, trans2, t, content_t, d_obj, pad)
        layer(self.body, shade)
        if self.deck is not None:
            layer(self.deck, self.body_gain * uni_gain(self.light, rot2, self.deck))
        return frame

    def _render_screen(
        self,
        frame: F32,
        rot2: F64,
        trans2: F64,
        t: float,
        content_t: float,
        d_obj: F64,
        pad: int,
    ) -> None:
        tex = self.screen.texture(content_t)
        hom = self.screen.planar.homography(self.K, rot2, trans2)
        res = warp_patch(tex, hom, self.size, pad)
        if res is None:
            return
        patch, x0, y0 = res
        h, w = patch.shape[:2]
        patch *= self.screen.grid.modulation(hom, x0, y0, w, h)
        corners = project(self.K, to_camera(rot2, trans2, self.screen_corners))
        alpha = poly_mask((h, w), corners - np.array([x0, y0]))
        centre = rot2 @ self.screen_centre + trans2
        normal = rot2 @ np.array([0.0, 0.0, -1.0])
        cos_view = max(0.0, float(normal @ (-centre / np.linalg.norm(centre))))
        contrast = 1 - self.view_loss * (1 - cos_view**2)
        if contrast < 0.999:
            mean = float(patch.mean())
            patch = patch * contrast + mean * 0.15 * (1 - contrast)
        if self.spec is not None:
            d = self.pose.angles_at(t) - self.pose.angles
            spec = self.spec.map(float(d[0]), float(d[1]))
            th, tw = tex.shape[:2]
            patch = patch + warp_into(spec, hom @ self.spec.homography((tw, th)), x0, y0, w, h)
        if self.banding is not None:
            amp, period, speed, phase = self.banding
            rows = np.arange(y0, y0 + h, dtype=np.float32)
            wave = np.sin(2 * np.pi * (rows / period + speed * t) + phase)
            band = (1 - amp * (0.5 + 0.5 * wave)).astype(np.float32)
            patch = patch * band[:, None, None]
        premultiplied = np.dstack([patch * alpha[..., None], alpha])
        over(frame, smear(premultiplied, d_obj), x0, y0)

    def probe(self, t: float) -> F64:
        rot, trans = self.object_pose(t)
        return project(self.K, to_camera(rot, trans, self.probe_pts))


def uni_gain(light: F64, rot: F64, plane: Planar) -> float:
    """Lambertian brightness of a plane that is not the object's main plane (desk, deck)."""
    n = np.cross(plane.e1, plane.e2)  # towards the camera-facing side for desk/deck
    normal = rot @ (-n / np.linalg.norm(n))
    return 0.45 + 0.55 * max(0.1, float(normal @ light))


@dataclass
class Device:
    kind: str  # phone | tablet | monitor | laptop
    screen: tuple[float, float]  # mm, as displayed (w, h)
    bezel: tuple[float, float, float, float]  # left, top, right, bottom (mm)
    body_r: float
    screen_r: float
    colour: F32  # linear
    stripes_vertical: bool  # sub-pixel stripes run along the displayed y axis
    oled: bool

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "screen_mm": [round(v, 1) for v in self.screen],
            "bezel_mm": [round(v, 1) for v in self.bezel],
            "colour": [round(float(c), 3) for c in self.colour],
            "oled": self.oled,
        }


def random_device(rng: np.random.Generator, kind: str, landscape: bool) -> Device:
    if kind == "phone":
        short = uni(rng, 62, 74)
        modern = chance(rng, 0.55)
        long_ = short * (uni(rng, 2.0, 2.2) if modern else pick(rng, [16 / 9, 1.9]))
        side = uni(rng, 1.5, 5) if modern else uni(rng, 3, 7)
        ends = (uni(rng, 3, 7), uni(rng, 3, 7)) if modern else (uni(rng, 10, 20), uni(rng, 10, 22))
        if chance(rng, 0.3):  # a case around it
            side += uni(rng, 1.5, 4)
            ends = (ends[0] + 2, ends[1] + 2)
        body_r, screen_r = uni(rng, 5, 11), uni(rng, 3, 8) if modern else uni(rng, 0, 2)
        colour = pick(
            rng,
            [(4, 4, 5), (10, 10, 12), (190, 195, 200), (150, 160, 170)],
            p=[0.5, 0.25, 0.1, 0.15],
        )
        oled = modern and chance(rng, 0.6)
        native = (short, long_, (side, ends[0], side, ends[1]))
    elif kind == "tablet":
        short = uni(rng, 135, 175)
        long_ = short * pick(rng, [4 / 3, 1.43, 1.5, 1.6])
        b = uni(rng, 6, 20)
        ends = (b + uni(rng, 0, 8), b + uni(rng, 0, 8))
        body_r, screen_r = uni(rng, 6, 12), uni(rng, 0, 8)
        colour = pick(rng, [(6, 6, 7), (15, 15, 16), (215, 218, 220)], p=[0.55, 0.2, 0.25])
        oled = chance(rng, 0.2)
        native = (short, long_, (b, ends[0], b, ends[1]))
    elif kind == "monitor":
        width = uni(rng, 400, 600)
        aspect = pick(rng, [16 / 9, 16 / 10])
        b = uni(rng, 2, 12)
        native = (width, width / aspect, (b, b, b, b + uni(rng, 2, 14)))
        body_r, screen_r = uni(rng, 0, 3), 0.0
        colour = pick(rng, [(6, 6, 6), (20, 20, 22), (200, 200, 205)], p=[0.6, 0.25, 0.15])
        oled = False
    else:
        width = uni(rng, 260, 340)
        aspect = pick(rng, [16 / 9, 16 / 10, 3 / 2])
        b = uni(rng, 4, 12)
        native = (width, width / aspect, (b, b + uni(rng, 0, 4), b, uni(rng, 10, 25)))
        body_r, screen_r = uni(rng, 2, 8), 0.0
        colour = pick(rng, [(6, 6, 6), (25, 25, 28), (170, 172, 175)], p=[0.6, 0.25, 0.15])
        oled = chance(rng, 0.1)
    w, h, (bl, bt, br, bb) = native
    portrait_native = kind in ("phone", "tablet")
    if portrait_native and landscape:  # turned 90° (clockwise or not)
        w, h = h, w
        bl, bt, br, bb = (bt, br, bb, bl) if chance(rng, 0.5) else (bb, bl, bt, br)
        stripes_vertical = False
    else:
        stripes_vertical = True
    lin = lin_colour(jitter_colour(rng, colour, 0.05))
    return Device(kind, (w, h), (bl, bt, br, bb), body_r, screen_r, lin, stripes_vertical, oled)


def content_layout(
    rng: np.random.Generator, mode: str, sa: float, clip: tuple[int, int], face: Face, zoom: float
) -> tuple[
    tuple[float, float, float, float],
    tuple[int, int, int, int],
    tuple[float, float, float, float] | None,
]:
    """Where the clip goes on the screen (normalised), which part of it, and a window if any."""
    cw, ch = clip
    ca = cw / ch
    window = None
    if mode in ("fit", "window"):
        if mode == "fit":
            if ca > sa:
                dest = (0.0, (1 - sa / ca) / 2, 1.0, sa / ca)
            else:
                dest = ((1 - ca / sa) / 2, 0.0, ca / sa, 1.0)
        else:
            bar = 0.045
            ww = uni(rng, 0.45, 0.85)
            vh = ww * sa / ca
            if vh + bar > 0.88:
                ww *= (0.88 - bar) / vh
                vh = ww * sa / ca
            wx = uni(rng, 0.02, 0.98 - ww)
            wy = uni(rng, 0.02, 0.93 - vh - bar)
            window = (wx, wy, ww, vh + bar)
            dest = (wx, wy + bar, ww, vh)
        return dest, (0, 0, cw, ch), window
    if ca > sa:
        crh, crw = float(ch), ch * sa
    else:
        crw, crh = float(cw), cw / sa
    crw, crh = crw / zoom, crh / zoom
    fx, fy, fw, fh, _ = face
    x0 = float(np.clip(fx + fw / 2 - crw / 2, 0, cw - crw))
    y0 = float(np.clip(fy + fh / 2 - crh * uni(rng, 0.4, 0.55), 0, ch - crh))
    return (
        (0.0, 0.0, 1.0, 1.0),
        (round(x0), round(y0), max(2, round(crw)), max(2, round(crh))),
        window,
    )


def draw_screen_canvas(
    rng: np.random.Generator, sw: int, sh: int, window: tuple[float, float, float, float] | None
) -> U8:
    canvas = np.zeros((sh, sw, 3), np.uint8)
    if window is None:
        return canvas
    c1 = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.2), np.float32)
    c2 = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.2), np.float32)
    g = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
    canvas[:] = np.clip(c1 * (1 - g) + c2 * g, 0, 255).astype(np.uint8)
    if chance(rng, 0.6):  # taskbar / dock
        tb = max(2, round(0.045 * sh))
        canvas[sh - tb :] = jitter_colour(
            rng, pick(rng, [(30, 30, 30), (235, 235, 235), (60, 50, 40)]), 0.1
        )
        for k in range(int(rng.integers(3, 9))):
            x = round((0.1 + 0.05 * k) * sw)
            cv2.rectangle(
                canvas,
                (x, sh - tb + 2),
                (x + tb - 4, sh - 3),
                jitter_colour(rng, pick(rng, CLOTHES), 0.3),
                -1,
            )
    wx, wy, ww, wh = window
    x0, y0, x1, y1 = round(wx * sw), round(wy * sh), round((wx + ww) * sw), round((wy + wh) * sh)
    dark = chance(rng, 0.5)
    cv2.rectangle(canvas, (x0 - 1, y0 - 1), (x1, y1), (40, 40, 40) if dark else (225, 225, 225), -1)
    bar = max(2, round(0.045 * sh))
    for k, colour in enumerate([(80, 80, 230), (60, 190, 240), (90, 200, 90)]):
        r = max(1, bar // 4)
        cv2.circle(canvas, (x0 + bar // 2 + k * 3 * r, y0 + bar // 2), r, colour, -1)
    return canvas


def device_texture(
    rng: np.random.Generator,
    dev: Device,
    ppm: float,
    fronts: Sequence[Capsule],
    skin: F32,
    stand: tuple[float, float, float] | None,
) -> tuple[Planar, dict[str, Any]]:
    """Body (bezel, rim, camera, speaker, logo, stand) with the screen cut out, and hands."""
    sw, sh = dev.screen
    bl, bt, br, bb = dev.bezel
    bw, bh = sw + bl + br, sh + bt + bb
    pad = 45.0 if fronts else 2.0
    pad_b = max(pad, stand[1] + 5) if stand else pad
    pad_x = max(pad, stand[2] / 2 - bw / 2 + 5) if stand else pad
    ppm = min(ppm, MAX_TEX / (bw + 2 * pad_x), MAX_TEX / (bh + pad + pad_b))
    canvas_w, canvas_h = round((bw + 2 * pad_x) * ppm), round((bh + pad + pad_b) * ppm)
    canvas = np.zeros((canvas_h, canvas_w, 4), np.float32)
    bx0, by0 = pad_x * ppm, pad * ppm
    bx1, by1 = bx0 + bw * ppm, by0 + bh * ppm
    info: dict[str, Any] = {}
    if stand:
        neck_w, neck_h, base_w = stand
        cx = (bx0 + bx1) / 2
        st_col = (
            dev.colour if chance(rng, 0.6) else lin_colour(jitter_colour(rng, (150, 150, 155), 0.1))
        )
        neck = rounded_rect(
            cx - neck_w / 2 * ppm, by1 - 5 * ppm, cx + neck_w / 2 * ppm, by1 + neck_h * ppm, 2 * ppm
        )
        paint(canvas, poly_mask((canvas_h, canvas_w), neck), st_col * 0.8)
        base = rounded_rect(
            cx - base_w / 2 * ppm,
            by1 + (neck_h - 12) * ppm,
            cx + base_w / 2 * ppm,
            by1 + neck_h * ppm,
            3 * ppm,
        )
        paint(canvas, poly_mask((canvas_h, canvas_w), base), st_col)
        info["stand_mm"] = [round(v, 1) for v in stand]
    body = poly_mask((canvas_h, canvas_w), rounded_rect(bx0, by0, bx1, by1, dev.body_r * ppm))
    yy = np.linspace(0, 1, canvas_h, dtype=np.float32)[:, None, None]
    grad = 1.15 - uni(rng, 0.1, 0.35) * yy
    col = dev.colour[None, None, :] * grad
    paint(canvas, body, np.broadcast_to(col, (canvas_h, canvas_w, 3)).astype(np.float32))
    rim_w = uni(rng, 0.4, 1.2) * ppm
    inner = poly_mask(
        (canvas_h, canvas_w),
        rounded_rect(
            bx0 + rim_w, by0 + rim_w, bx1 - rim_w, by1 - rim_w, max(dev.body_r * ppm - rim_w, 0)
        ),
    )
    rim = np.clip(body - inner, 0, 1)
    rim_col = (
        np.maximum(dev.colour * uni(rng, 2.5, 5.0), lin_colour((60, 60, 62)))
        if float(dev.colour.mean()) < 0.1
        else dev.colour * 0.6
    )
    paint(canvas, rim, rim_col.astype(np.float32))
    sx0, sy0 = bx0 + bl * ppm, by0 + bt * ppm
    sx1, sy1 = sx0 + sw * ppm, sy0 + sh * ppm
    dark = lin_colour((12, 12, 14))
    if dev.kind in ("phone", "tablet"):
        top_edge = min(dev.bezel)
        # camera and speaker in the widest short-side bezel
        if dev.screen[0] < dev.screen[1]:
            cx, cy, size = (bx0 + bx1) / 2, by0 + bt * ppm / 2, bt
        else:
            cx, cy, size = bx0 + bl * ppm / 2, (by0 + by1) / 2, bl
        if size >= 5:
            r = 1.3 * ppm
            paint(
                canvas,
                poly_mask(
                    (canvas_h, canvas_w),
                    ellipse_poly(
                        cx + 12 * ppm if dev.screen[0] < dev.screen[1] else cx,
                        cy if dev.screen[0] < dev.screen[1] else cy + 12 * ppm,
                        r,
                        r,
                        0,
                        16,
                    ),
                ),
                dark,
            )
            if dev.kind == "phone":
                slit = (
                    rounded_rect(
                        cx - 6 * ppm, cy - 0.6 * ppm, cx + 6 * ppm, cy + 0.6 * ppm, 0.6 * ppm
                    )
                    if dev.screen[0] < dev.screen[1]
                    else rounded_rect(
                        cx - 0.6 * ppm, cy - 6 * ppm, cx + 0.6 * ppm, cy + 6 * ppm, 0.6 * ppm
                    )
                )
                paint(
                    canvas,
                    poly_mask((canvas_h, canvas_w), slit),
                    dev.colour * 0.5 + lin_colour((35, 35, 38)) * 0.5,
                )
        info["top_bezel_mm"] = round(top_edge, 1)
    elif dev.kind in ("monitor", "laptop"):
        if chance(rng, 0.5):
            cx, cy = (bx0 + bx1) / 2, by1 - bb * ppm / 2
            logo = rounded_rect(
                cx - 8 * ppm, cy - 1.5 * ppm, cx + 8 * ppm, cy + 1.5 * ppm, 0.5 * ppm
            )
            paint(
                canvas,
                poly_mask((canvas_h, canvas_w), logo),
                np.maximum(dev.colour * 2.5, lin_colour((70, 70, 72)))
                if float(dev.colour.mean()) < 0.1
                else dev.colour * 0.5,
            )
        if dev.kind == "laptop" and bt >= 4:
            r = 1.2 * ppm
            paint(
                canvas,
                poly_mask(
                    (canvas_h, canvas_w),
                    ellipse_poly((bx0 + bx1) / 2, by0 + bt * ppm / 2, r, r, 0, 16),
                ),
                dark,
            )
    hole = poly_mask((canvas_h, canvas_w), rounded_rect(sx0, sy0, sx1, sy1, dev.screen_r * ppm))
    canvas *= (1 - hole)[..., None]
    if dev.kind == "phone" and min(dev.bezel) < 5 and chance(rng, 0.6):  # punch-hole camera
        if dev.screen[0] < dev.screen[1]:
            cx, cy = (sx0 + sx1) / 2, sy0 + 4 * ppm
        else:
            cx, cy = sx0 + 4 * ppm, (sy0 + sy1) / 2
        paint(
            canvas,
            poly_mask((canvas_h, canvas_w), ellipse_poly(cx, cy, 1.6 * ppm, 1.6 * ppm, 0, 16)),
            lin_colour((5, 5, 5)),
        )
        info["punch_hole"] = True
    # object frame: origin at the screen centre
    scx, scy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    origin = (-scx / ppm, -scy / ppm)
    draw_capsules(canvas, fronts, skin, origin, ppm)
    planar = Planar(canvas, 1 / ppm, np.array([origin[0], origin[1], 0.0]))
    return planar, info


def desk_texture(rng: np.random.Generator, w_mm: float, d_mm: float, ppm: float) -> F32:
    w, h = max(4, round(w_mm * ppm)), max(4, round(d_mm * ppm))
    colour = lin_colour(
        jitter_colour(
            rng,
            pick(
                rng,
                [(60, 100, 150), (90, 140, 190), (230, 230, 228), (40, 40, 42), (140, 140, 140)],
            ),
            0.08,
        )
    )
    grain = cv2.resize(
        rng.normal(0, 1, (max(2, h // 6), 6)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    shade = 1 + 0.08 * grain + 0.02 * fine
    tex = np.empty((h, w, 4), np.float32)
    tex[..., :3] = colour * shade[..., None]
    tex[..., 3] = 1
    return tex


def deck_texture(
    rng: np.random.Generator, w_mm: float, d_mm: float, ppm: float, colour: F32
) -> F32:
    w, h = max(4, round(w_mm * ppm)), max(4, round(d_mm * ppm))
    tex = np.zeros((h, w, 4), np.float32)
    tex[..., :3] = colour
    tex[..., 3] = 1
    key_col = colour * 0.35 if float(colour.mean()) > 0.1 else lin_colour((20, 20, 22))
    pitch = 19.0
    n_keys = int((w_mm - 30) // pitch)
    x_start = (w_mm - n_keys * pitch) / 2
    for row in range(6):
        y = (15 + row * pitch) * ppm
        for k in range(n_keys):
            x = (x_start + k * pitch) * ppm
            cv2.rectangle(
                tex,
                (round(x), round(y)),
                (round(x + 15.5 * ppm), round(y + (15.5 if row else 9) * ppm)),
                (*key_col.tolist(), 1.0),
                -1,
            )
    tp_w, tp_h = uni(rng, 90, 130), uni(rng, 60, 80)
    y0 = (20 + 6 * pitch) * ppm
    cv2.rectangle(
        tex,
        (round((w_mm - tp_w) / 2 * ppm), round(y0)),
        (round((w_mm + tp_w) / 2 * ppm), round(y0 + tp_h * ppm)),
        (*(colour * 0.9).tolist(), 1.0),
        -1,
    )
    return tex


def build_replay(
    rng: np.random.Generator,
    data: Data,
    finder: FaceFinder,
    src: Source,
    hard: bool,
    seconds: float,
) -> tuple[Scene, Camera, int, dict[str, Any]]:
    """A screen-replay attack: (scene, camera, frame count, what was drawn at random).

    Raises ``SkipSourceError`` when the clip has no usable face at the chosen offset.
    """
    path = data.root / src.path
    fps_src, dur = clip_info(path)
    seconds = min(seconds, dur - 1 / fps_src)
    offset = uni(rng, 0, max(0.0, dur - seconds - 0.1))
    frames, frame_times = read_clip(path, offset, seconds + 0.1, CLIP_MAX_SIDE)
    if len(frames) < 2:
        raise SkipSourceError(f"{src.path}: could not decode frames at {offset:.2f} s")
    face = finder.largest(frames[len(frames) // 2]) or finder.largest(frames[0])
    if face is None:
        raise SkipSourceError(f"{src.path}: no face found at {offset:.2f} s")
    ch_, cw_ = frames[0].shape[:2]

    portrait = chance(rng, 0.2)
    img_w, img_h = random_size(rng, portrait)
    fps = random_fps(rng)
    cam = Camera.random(rng, img_w, img_h, fps)
    f = float(cam.K[0, 0])
    room = face_room(img_w, img_h) / img_w  # face sizes below are fractions of the frame width
    n_frames = max(2, round(seconds * fps))
    times = np.arange(n_frames) / fps

    kinds = ["phone", "tablet", "monitor", "laptop"]
    kind = pick(rng, kinds, p=[0.25, 0.3, 0.3, 0.15] if hard else [0.35, 0.2, 0.25, 0.2])
    if kind in ("phone", "tablet"):
        landscape = (not portrait) if hard else chance(rng, 0.35 if kind == "phone" else 0.6)
    else:
        landscape = True
    dev = random_device(rng, kind, landscape)
    sw_mm, sh_mm = dev.screen
    sa = sw_mm / sh_mm
    if hard:
        mode = pick(rng, ["fill", "zoom", "fit"], p=[0.5, 0.2, 0.3])
    elif kind in ("monitor", "laptop"):
        mode = pick(rng, ["fit", "window", "fill", "zoom"], p=[0.35, 0.35, 0.15, 0.15])
    else:
        mode = pick(rng, ["fit", "fill", "zoom"], p=[0.5, 0.3, 0.2])
    zoom = uni(rng, 1.1, 1.6) if mode == "zoom" else 1.0
    handheld = kind in ("phone", "tablet") and chance(rng, 0.8)
    z_range = {
        "phone": (80, 400),
        "tablet": (150, 600),
        "monitor": (250, 1200),
        "laptop": (250, 900),
    }[kind]

    target_frac = uni(rng, max(0.12, MIN_FACE_PX / (room * img_w)), 0.42) * room
    cover = uni(rng, 1.05, 1.2)
    for _ in range(4):
        dest, crop, window = content_layout(rng, mode, sa, (cw_, ch_), face, zoom)
        face_mm = face[2] / crop[2] * dest[2] * sw_mm
        if hard:  # the screen fills the frame; the content decides how large the face is
            dist = max(60.0, min(f * sw_mm / (cover * img_w), f * sh_mm / (cover * img_h)))
            frac = f * face_mm / (dist * img_w)
            smaller = {"zoom": "fill", "fill": "fit", "fit": "window"}.get(mode)
            if (
                frac <= 0.55 * room
                or smaller is None
                or (smaller == "window" and kind in ("phone", "tablet"))
            ):
                break
            mode, zoom = smaller, 1.0
            continue
        dist = float(np.clip(f * face_mm / (target_frac * img_w), *z_range))
        frac = f * face_mm / (dist * img_w)
        if frac >= 0.12 * room or (mode == "zoom" and zoom >= 2.4):
            break
        mode, zoom = "zoom", min(2.5, zoom * 0.14 * room / frac)
    close_up = hard and chance(rng, CLOSE_UP_SHARE)
    if close_up:  # the content zoomed in until the face spans 45–70 % of the frame
        dest_1, crop_1, _ = content_layout(rng, "zoom", sa, (cw_, ch_), face, 1.0)
        fill_frac = f * face[2] / crop_1[2] * dest_1[2] * sw_mm / (dist * img_w)
        close_up = fill_frac <= MAX_FACE_FRAC * room
        if close_up:
            mode, zoom = "zoom", float(np.clip(uni(rng, 0.45, 0.7) * room / fill_frac, 1, 4))
            dest, crop, window = content_layout(rng, mode, sa, (cw_, ch_), face, zoom)
            face_mm = face[2] / crop[2] * dest[2] * sw_mm
            frac = f * face_mm / (dist * img_w)

    # ---- pose and motion
    lim = (8.0, 8.0, 5.0) if hard else (15.0, 15.0, 10.0)
    angles = np.array([sym(rng, lim[0]), sym(rng, lim[1]), sym(rng, lim[2])])
    rot0 = rotation(*angles)
    fu = dest[0] + ((face[0] + face[2] / 2) - crop[0]) / crop[2] * dest[2]
    fv = dest[1] + ((face[1] + face[3] / 2) - crop[1]) / crop[3] * dest[3]
    face_pt = np.array([(fu - 0.5) * sw_mm, (fv - 0.5) * sh_mm, 0.0])
    if hard:
        target = (img_w / 2 + sym(rng, 0.06 * img_w), img_h / 2 + sym(rng, 0.06 * img_h))
        anchor = np.zeros(3)
    else:
        target = (
            img_w / 2 + sym(rng, 0.12 * img_w),
            img_h / 2 - 0.03 * img_h + sym(rng, 0.1 * img_h),
        )
        anchor = face_pt
    ray = np.linalg.inv(cam.K) @ np.array([target[0], target[1], 1.0])
    # a phone or tablet shown to the camera turns and moves a lot (not when it fills the frame)
    showing = handheld and not hard and chance(rng, SHOWING_SHARE / (1 - HARD_SHARE))
    if handheld:
        weight = 1.0 if kind == "phone" else 0.75
        wob = (showing_wobble if showing else hand_wobble)(rng, seconds, weight)
        cam_mode = pick(rng, ["static", "handheld"], p=[0.6, 0.4])
    else:
        wob = still_wobble() if chance(rng, 0.6) else propped_wobble(rng, seconds)
        cam_mode = pick(rng, ["static", "handheld"], p=[0.15, 0.85])
    cam_wob = camera_shake(rng, seconds) if cam_mode == "handheld" else still_wobble()

    # ---- body texture, stand, hands, desk, deck
    skin = lin_colour(jitter_colour(rng, pick(rng, SKIN_TONES), 0.06))
    bl, bt, br, bb = dev.bezel
    body_rect = (-sw_mm / 2 - bl, -sh_mm / 2 - bt, sw_mm / 2 + br, sh_mm / 2 + bb)
    reach = 1.1 * math.hypot(img_w, img_h) * dist / f  # an arm this long leaves the picture
    sleeved = chance(rng, 0.5)
    sleeve = lin_colour(jitter_colour(rng, pick(rng, CLOTHES), 0.15))
    hands: list[str] = []
    behind: list[Capsule] = []
    fronts: list[Capsule] = []
    if handheld:
        if kind == "phone" and not landscape:
            side = pick(rng, ["left", "right"])
            behind, fronts = phone_grip(rng, side, body_rect, reach, sleeved)
            hands = [f"one_hand_thumb_{side}"]
        else:
            edges = ["left", "right"] if chance(rng, 0.7) else [pick(rng, ["left", "right"])]
            for edge in edges:
                b_caps, f_caps = edge_grip(
                    rng, edge, uni(rng, 0.35, 0.75), body_rect, reach, sleeved, (3.0, 12.0)
                )
                behind += b_caps
                fronts += f_caps
            hands = edges
    stand = None
    if kind == "monitor":
        stand = (uni(rng, 40, 90), uni(rng, 60, 160), uni(rng, 150, 260))
    ppm = f / dist * uni(rng, 1.1, 1.5)
    body, body_info = device_texture(rng, dev, ppm, fronts, skin, stand)
    back = capsule_layer(behind, skin, sleeve, f / dist, reach + 200)
    body_bottom = sh_mm / 2 + bb
    desk = deck = None
    deck_beta = 0.0
    if kind == "laptop":
        deck_beta = uni(rng, 95, 125)
        bw = sw_mm + bl + br
        e2 = np.array([0.0, -math.cos(math.radians(deck_beta)), -math.sin(math.radians(deck_beta))])
        deck_col = lin_colour(
            jitter_colour(rng, pick(rng, [(170, 172, 175), (90, 90, 95), (25, 25, 27)]), 0.05)
        )
        dppm = min(ppm * 0.6, 4.0)
        deck = Planar(
            deck_texture(rng, bw, uni(rng, 200, 240), dppm, deck_col),
            1 / dppm,
            np.array([-sw_mm / 2 - bl, body_bottom, 0.0]),
            np.array([1.0, 0, 0]),
            e2,
        )
    if kind in ("monitor", "laptop") and chance(rng, 0.85):
        dppm = min(ppm * 0.4, 2.0)
        if kind == "monitor":
            assert stand is not None
            y_desk = body_bottom + stand[1]
            desk = Planar(
                desk_texture(rng, 1400, 700, dppm),
                1 / dppm,
                np.array([-700.0, y_desk, 350.0]),
                np.array([1.0, 0, 0]),
                np.array([0.0, 0, -1.0]),
            )
        else:
            assert deck is not None
            n = np.cross(deck.e1, deck.e2)
            origin = np.array([-700.0, body_bottom, 0.0]) + 12 * n - 300 * deck.e2
            desk = Planar(desk_texture(rng, 1400, 800, dppm), 1 / dppm, origin, deck.e1, deck.e2)

    def placed(depth: float) -> Pose:
        return Pose(angles, depth * ray - rot0 @ anchor, wob)

    screen_pl_corners = np.array(
        [
            [-sw_mm / 2, -sh_mm / 2, 0],
            [sw_mm / 2, -sh_mm / 2, 0],
            [sw_mm / 2, sh_mm / 2, 0],
            [-sw_mm / 2, sh_mm / 2, 0],
        ]
    )
    pose = placed(dist)
    frame_c = [(1.0, 1.0), (img_w - 2.0, 1.0), (img_w - 2.0, img_h - 2.0), (1.0, img_h - 2.0)]
    for tries in range(40):
        ok = True
        for t in [*times[:: max(1, len(times) // 24)].tolist(), float(times[-1])]:
            rot_c, tc = rotation(*cam_wob.at(t)[:3]), cam_wob.at(t)[3:]
            rot, trans = pose.at(t)
            rot2, trans2 = rot_c @ rot, rot_c @ trans + tc
            for extra in (desk, deck):
                if (
                    extra is not None
                    and (to_camera(rot2, trans2, extra.corners())[:, 2] < 60).any()
                ):
                    extra.tex = extra.tex[: max(4, int(extra.tex.shape[0] * 0.8))].copy()
                    ok = False
            if hard:
                quad = project(cam.K, to_camera(rot2, trans2, screen_pl_corners)).astype(np.float32)
                if any(cv2.pointPolygonTest(quad, p, True) < 3 for p in frame_c):
                    dist *= 0.95
                    pose = placed(dist)
                    ok = False
            else:
                fp = project(cam.K, to_camera(rot2, trans2, face_pt[None]))[0]
                if not face_inside(fp, frac * img_w, img_w, img_h):
                    wob = wob.damped(0.6, turns=not showing or tries >= 15)
                    cam_wob = cam_wob.damped(0.6)
                    pose = placed(dist)
                    ok = False
            if not ok:
                break
        if ok:
            break
    frac = f * face_mm / (dist * img_w)
    if hard and frac > MAX_FACE_FRAC * room * 1.1:  # moved this close to fill the frame
        raise SkipSourceError(f"{src.path}: face too large ({frac:.0%}) up close")

    # ---- screen texture: resolution, pixel grid, transfer
    out_w, out_h = f * sw_mm / dist, f * sh_mm / dist
    # panel pixels per output pixel at rest: the grid's frequency as the camera samples it; the
    # content texture only needs about the output's resolution
    ratio = uni(rng, 0.85, 1.6) if chance(rng, 0.8) else uni(rng, 1.6, 2.5)
    tex_scale = min(1.0, max(1024, 1.25 * max(img_w, img_h)) / max(out_w, out_h))
    sw_px, sh_px = max(8, round(out_w * tex_scale)), max(8, round(out_h * tex_scale))
    canvas = draw_screen_canvas(rng, sw_px, sh_px, window)
    dx, dy = round(dest[0] * sw_px), round(dest[1] * sh_px)
    dw, dh = (
        max(2, min(round(dest[2] * sw_px), sw_px - dx)),
        max(2, min(round(dest[3] * sh_px), sh_px - dy)),
    )
    progress = None
    if mode in ("fit", "window") and chance(rng, 0.35):
        progress = (dy + dh - max(3, dh // 14), dx + dw // 20, dx + dw - dw // 20)
    gamma_d = uni(rng, 1.9, 2.6)
    bright = uni(rng, 0.6, 1.7)
    temp = pick(rng, ["cool", "neutral", "warm"], p=[0.6, 0.3, 0.1])
    if temp == "cool":
        gains = np.array([uni(rng, 1.0, 1.2), 1.0, uni(rng, 0.85, 1.0)])
    elif temp == "warm":
        gains = np.array([uni(rng, 0.6, 0.8), uni(rng, 0.9, 1.0), 1.0])
    else:
        gains = np.array([uni(rng, 0.95, 1.05), 1.0, uni(rng, 0.95, 1.05)])
    black = uni(rng, 0.0003, 0.002) if dev.oled else uni(rng, 0.004, 0.03)
    v = np.arange(256) / 255.0
    luts = np.stack([bright * g * (black + (1 - black) * v**gamma_d) for g in gains]).astype(
        np.float32
    )
    order = (2 / 3, 1 / 3, 0.0) if chance(rng, 0.8) else (0.0, 1 / 3, 2 / 3)  # RGB or BGR
    grid = SubpixelGrid(
        vertical=dev.stripes_vertical,
        order=order,
        depth=uni(rng, 0.6, 1.0),
        gap=uni(rng, 0.1, 0.5),
        aperture=uni(rng, 0.22, 0.45),
        cells_per_texel=ratio * out_w / sw_px,
    )
    content_fps = (
        fps_src if chance(rng, 0.6) else float(min(fps_src, pick(rng, [15.0, 20.0, 24.0])))
    )
    screen_pl = Planar(
        np.zeros((sh_px, sw_px, 3), np.float32),
        sw_mm / sw_px,
        np.array([-sw_mm / 2, -sh_mm / 2, 0.0]),
    )
    screen = Screen(
        planar=screen_pl,
        frames=frames,
        times=frame_times,
        src_fps=fps_src,
        content_fps=content_fps,
        content_phase=uni(rng, 0, 1),
        canvas=canvas,
        dest=(dx, dy, dw, dh),
        crop=crop,
        luts=luts,
        saturation=uni(rng, 0.85, 1.25),
        grid=grid,
        progress=progress,
    )

    # ---- room, light, glare
    pw_plate, ph_plate = round(img_w * PLATE_MARGIN), round(img_h * PLATE_MARGIN)
    plate, plate_info = make_plate(rng, data, finder, pw_plate, ph_plate)
    defocus = uni(rng, 0.6, 3.5) if not hard else uni(rng, 1.0, 4.0)
    plate = as_u8(cv2.GaussianBlur(plate, (0, 0), defocus))
    bg_gain = uni(rng, 0.3, 1.0)
    light = np.array([sym(rng, 0.6), -uni(rng, 0.2, 0.9), -1.0])
    light /= np.linalg.norm(light)
    ambient = uni(rng, 0.35, 0.7)
    spec = None
    if chance(rng, 0.85):
        refl = uni(rng, 0.01, 0.06) if chance(rng, 0.6) else 0.0
        spec = random_specular(
            rng, (0.03, 0.45) if chance(rng, 0.8) else (0.0, 0.01), linear(plate) * bg_gain, refl
        )
        spec.strength *= bg_gain
    banding = None
    if chance(rng, 0.3):
        banding = (uni(rng, 0.03, 0.12), uni(rng, 40, 250), uni(rng, -3, 3), uni(rng, 0, 6.3))
    view_loss = uni(rng, 0.03, 0.15) if dev.oled else uni(rng, 0.2, 0.6)
    scene = ReplayScene(
        cam,
        plate,
        bg_gain,
        cam_wob,
        uni(rng, 1500, 4000),
        body,
        screen,
        pose,
        light,
        ambient,
        bg_gain * uni(rng, 0.8, 1.2),
        desk,
        deck,
        spec,
        banding,
        view_loss,
        face_pt,
        back,
    )
    params: dict[str, Any] = {
        "size": [img_w, img_h],
        "close_up": close_up,
        "clip": {"path": src.path, "start_s": round(offset, 3), "seconds": round(seconds, 3)},
        "device": dev.describe() | body_info,
        "held": "hand" if handheld else ("stand" if kind in ("phone", "tablet") else "desk"),
        "hands": hands,
        "content_mode": mode,
        "content_zoom": round(zoom, 3),
        "content_fps": content_fps,
        "clip_fps": fps_src,
        "face_frac": round(frac, 3),
        "distance_mm": round(dist, 1),
        "pose_deg": [round(float(a), 2) for a in angles],
        "camera_motion": cam_mode,
        "object_motion": wob.describe(),
        "showing": showing,
        "object_sweep": wob.sweep(seconds) if showing else None,
        "camera_shake": cam_wob.describe(),
        "display": {
            "gamma": round(gamma_d, 3),
            "brightness": round(bright, 3),
            "colour_temp": temp,
            "channel_gains": [round(float(g), 3) for g in gains],
            "black_level": round(black, 4),
            "saturation": round(screen.saturation, 3),
            "panel_px": [round(out_w * ratio), round(out_h * ratio)],
            "panel_px_per_output_px": round(ratio, 3),
            "pixel_grid": grid.describe(),
            "view_loss": round(view_loss, 3),
            "banding": [round(b, 3) for b in banding] if banding else None,
            "specular": spec.describe() if spec else None,
            "progress_bar": progress is not None,
        },
        "desk": desk is not None,
        "laptop_hinge_deg": round(deck_beta, 1) if deck is not None else None,
        "light": {"ambient": round(ambient, 3), "background_gain": round(bg_gain, 3)},
        "background": {**plate_info, "defocus_px": round(defocus, 2)},
        "camera": cam.params,
    }
    return scene, cam, n_frames, params
