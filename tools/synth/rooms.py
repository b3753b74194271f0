"""The room behind the attack: background plates (photos and clip frames with the people
in-painted away, or procedural rooms) and the attacker's torso.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import cv2
import numpy as np

from tools.synth.basics import (
    CLOTHES,
    F32,
    U8,
    Face,
    as_f32,
    as_u8,
    chance,
    jitter_colour,
    pick,
    sym,
    uni,
)
from tools.synth.data import Data, FaceFinder, clip_info, read_clip, read_image
from tools.synth.shapes import paint, poly_mask

PLATE_MARGIN = 1.3  # background plates are this much larger than the frame (camera shake)


WALLS = [  # BGR sRGB
    (232, 236, 236),
    (210, 221, 225),
    (226, 220, 214),
    (190, 210, 200),
    (200, 225, 235),
    (195, 190, 190),
    (245, 240, 240),
    (180, 195, 210),
    (200, 180, 170),
    (195, 215, 225),
    (150, 160, 165),
    (215, 228, 240),
]


def procedural_room(rng: np.random.Generator, w: int, h: int) -> U8:
    """A plausible indoor wall: paint, a corner, ceiling/floor, furniture, lights, texture."""
    img = np.empty((h, w, 3), np.float32)
    wall = np.array(jitter_colour(rng, pick(rng, WALLS), 0.05), np.float32) * uni(rng, 0.8, 1.02)
    img[:] = wall
    if chance(rng, 0.55):  # room corner: the other wall is lit differently
        xc = int(uni(rng, 0.1, 0.9) * w)
        sl = slice(xc, w) if chance(rng, 0.5) else slice(0, xc)
        img[:, sl] *= uni(rng, 0.72, 0.92)
    if chance(rng, 0.4):  # ceiling with lights
        yc = int(uni(rng, 0.06, 0.25) * h)
        y2 = int(yc + sym(rng, 0.06) * h)
        ceiling = poly_mask((h, w), np.array([[0, 0], [w, 0], [w, max(y2, 1)], [0, max(yc, 1)]]))
        paint4 = np.dstack([img, np.ones((h, w, 1), np.float32)])
        paint(paint4, ceiling, np.array(jitter_colour(rng, (238, 240, 240), 0.03), np.float32))
        img = np.ascontiguousarray(paint4[..., :3])
        for _ in range(int(rng.integers(0, 3))):
            lx, lw = uni(rng, 0, w), uni(rng, 0.08, 0.2) * w
            ly = uni(rng, 0.2, 0.7) * min(yc, y2)
            cv2.rectangle(
                img, (int(lx), int(ly)), (int(lx + lw), int(ly + 0.03 * h)), (255, 255, 255), -1
            )
    if chance(rng, 0.35):  # floor
        yf = int(uni(rng, 0.78, 0.95) * h)
        floor = jitter_colour(
            rng, pick(rng, [(60, 90, 120), (120, 120, 125), (90, 110, 140)]), 0.15
        )
        cv2.rectangle(img, (0, yf), (w, h), floor, -1)
        cv2.line(img, (0, yf), (w, yf), [c * 0.6 for c in floor], max(1, h // 120))
    for _ in range(int(rng.integers(2, 8))):
        _draw_furniture(rng, img, w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = uni(rng, -0.2, 1.2) * w, uni(rng, -0.4, 0.6) * h
    sigma = uni(rng, 0.5, 1.4) * max(w, h)
    light = 0.62 + 0.45 * np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (2 * sigma**2))
    img *= light[..., None]
    coarse = cv2.resize(
        rng.normal(0, 1, (max(h // 48, 2), max(w // 48, 2), 3)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    img += coarse * uni(rng, 1, 4) + rng.normal(0, uni(rng, 0.8, 2.5), (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_furniture(rng: np.random.Generator, img: F32, w: int, h: int) -> None:
    kind = pick(
        rng,
        [
            "door",
            "window",
            "frame",
            "shelf",
            "cabinet",
            "board",
            "curtain",
            "plant",
            "lamp",
            "dark",
        ],
    )
    x0 = uni(rng, -0.1, 0.95) * w
    if kind in ("door", "cabinet", "shelf", "plant"):
        bw = uni(rng, 0.12, 0.35) * w
        bh = uni(rng, 0.3, 0.85) * h
        y0 = h - bh if kind != "door" else uni(rng, 0.05, 0.25) * h
        if kind == "door":
            bh = h - y0
    elif kind == "curtain":
        bw, bh, y0 = uni(rng, 0.15, 0.4) * w, h * uni(rng, 0.7, 1.0), 0.0
    else:
        bw, bh = uni(rng, 0.1, 0.35) * w, uni(rng, 0.1, 0.35) * h
        y0 = uni(rng, 0.0, 0.6) * h
    x1, y1 = x0 + bw, y0 + bh
    p0, p1 = (int(x0), int(y0)), (int(x1), int(y1))
    # soft contact shadow
    sh = np.zeros((h, w), np.float32)
    off = int(uni(rng, 0.004, 0.015) * w)
    cv2.rectangle(sh, (p0[0] + off, p0[1] + off), (p1[0] + off, p1[1] + off), 1.0, -1)
    sh = as_f32(cv2.GaussianBlur(sh, (0, 0), max(2.0, 0.01 * w)))
    img *= (1 - uni(rng, 0.1, 0.3) * sh)[..., None]
    t = max(1, int(0.006 * w))
    if kind == "door":
        c = jitter_colour(
            rng, pick(rng, [(60, 100, 150), (235, 235, 235), (100, 100, 100), (40, 70, 110)]), 0.1
        )
        cv2.rectangle(img, p0, p1, c, -1)
        cv2.rectangle(img, p0, p1, [v * 0.75 for v in c], t * 2)
        hx = int(x0 + bw * (0.85 if chance(rng, 0.5) else 0.15))
        cv2.circle(img, (hx, int(y0 + 0.5 * bh)), max(2, int(0.012 * w)), (170, 170, 175), -1)
    elif kind == "window":
        sky = jitter_colour(
            rng,
            pick(rng, [(250, 245, 240), (245, 235, 215), (255, 255, 255), (230, 220, 200)]),
            0.03,
        )
        cv2.rectangle(img, p0, p1, sky, -1)
        frame_c = jitter_colour(rng, (225, 225, 225), 0.1)
        cv2.rectangle(img, p0, p1, frame_c, t * 2)
        cv2.line(img, (int(x0 + bw / 2), int(y0)), (int(x0 + bw / 2), int(y1)), frame_c, t)
        if chance(rng, 0.5):
            for yb in np.arange(y0, y1, max(3.0, 0.012 * h)):
                cv2.line(img, (int(x0), int(yb)), (int(x1), int(yb)), [v * 0.8 for v in sky], 1)
    elif kind == "frame":
        c1 = np.array(jitter_colour(rng, pick(rng, CLOTHES), 0.3), np.float32)
        c2 = np.array(jitter_colour(rng, pick(rng, WALLS), 0.3), np.float32)
        n = rng.normal(0, 1, (4, 4)).astype(np.float32)
        art = cv2.resize(
            n, (max(p1[0] - p0[0], 1), max(p1[1] - p0[1], 1)), interpolation=cv2.INTER_CUBIC
        )
        art = (art - art.min()) / max(float(np.ptp(art)), 1e-6)
        ys, xs = slice(max(p0[1], 0), min(p1[1], h)), slice(max(p0[0], 0), min(p1[0], w))
        a = art[ys.start - p0[1] : ys.stop - p0[1], xs.start - p0[0] : xs.stop - p0[0]]
        if a.size:
            img[ys, xs] = c1 * a[..., None] + c2 * (1 - a[..., None])
        cv2.rectangle(
            img,
            p0,
            p1,
            jitter_colour(rng, pick(rng, [(30, 30, 30), (40, 80, 120), (230, 230, 230)]), 0.1),
            t * 2,
        )
    elif kind == "shelf":
        wood = jitter_colour(
            rng, pick(rng, [(60, 90, 130), (200, 200, 200), (40, 40, 40), (90, 130, 170)]), 0.1
        )
        cv2.rectangle(img, p0, p1, [v * 0.55 for v in wood], -1)
        n_shelves = int(rng.integers(2, 6))
        for k in range(n_shelves + 1):
            yb = y0 + bh * k / n_shelves
            cv2.rectangle(img, (int(x0), int(yb)), (int(x1), int(yb + t * 2)), wood, -1)
            if k < n_shelves:
                xb = x0 + t * 2
                top = yb + t * 2
                height = bh / n_shelves
                while xb < x1 - t * 4 and height > 4:
                    bwid = uni(rng, 0.01, 0.03) * w
                    bhgt = height * uni(rng, 0.55, 0.9)
                    cv2.rectangle(
                        img,
                        (int(xb), int(top + height - bhgt)),
                        (int(xb + bwid), int(top + height - t)),
                        jitter_colour(rng, pick(rng, CLOTHES), 0.3),
                        -1,
                    )
                    xb += bwid + (uni(rng, 0, 0.03) * w if chance(rng, 0.2) else 1)
        cv2.rectangle(img, p0, p1, [v * 0.8 for v in wood], t)
    elif kind == "cabinet":
        c = jitter_colour(
            rng, pick(rng, [(200, 200, 195), (60, 90, 130), (120, 120, 120), (230, 230, 230)]), 0.08
        )
        cv2.rectangle(img, p0, p1, c, -1)
        for k in range(1, int(rng.integers(2, 5))):
            yb = int(y0 + bh * k / 4)
            cv2.line(img, (int(x0), yb), (int(x1), yb), [v * 0.7 for v in c], t)
    elif kind == "board":
        cv2.rectangle(img, p0, p1, jitter_colour(rng, (245, 245, 245), 0.02), -1)
        cv2.rectangle(img, p0, p1, (150, 150, 150), t * 2)
        for _ in range(int(rng.integers(0, 8))):
            a = (int(uni(rng, x0, x1)), int(uni(rng, y0, y1)))
            b = (int(a[0] + sym(rng, 0.1) * w), int(a[1] + sym(rng, 0.02) * h))
            cv2.line(
                img,
                a,
                b,
                jitter_colour(rng, pick(rng, [(150, 60, 40), (40, 40, 40), (40, 40, 170)]), 0.2),
                1,
            )
    elif kind == "curtain":
        cloth = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.1), np.float32)
        cols = np.arange(w, dtype=np.float32)
        folds = 0.8 + 0.2 * np.sin(2 * np.pi * cols / uni(rng, 0.02, 0.06) / w)
        rs, cs = slice(max(int(y0), 0), min(int(y1), h)), slice(max(int(x0), 0), min(int(x1), w))
        img[rs, cs] = cloth * folds[cs][None, :, None]
    elif kind == "plant":
        pot = (int(x0 + bw / 2), int(y1))
        cv2.rectangle(
            img,
            (pot[0] - int(bw * 0.2), int(y1 - bh * 0.25)),
            (pot[0] + int(bw * 0.2), int(y1)),
            jitter_colour(rng, (60, 80, 160), 0.2),
            -1,
        )
        for _ in range(int(rng.integers(6, 18))):
            cx, cy = pot[0] + sym(rng, bw * 0.45), y1 - bh * uni(rng, 0.3, 1.0)
            cv2.ellipse(
                img,
                (int(cx), int(cy)),
                (max(1, int(bw * 0.12)), max(1, int(bw * 0.05))),
                uni(rng, 0, 180),
                0,
                360,
                jitter_colour(rng, (50, 120, 60), 0.3),
                -1,
            )
    elif kind == "lamp":
        cx, cy = int(x0 + bw / 2), int(y0 + bh / 2)
        r = max(3, int(0.03 * w))
        glow = np.zeros((h, w), np.float32)
        cv2.circle(glow, (cx, cy), r * 3, 1.0, -1)
        glow = wide_blur(glow, r * 2)
        img += (glow * 60)[..., None]
        cv2.circle(img, (cx, cy), r, (250, 252, 255), -1)
    else:  # an object that is switched off: a dark screen, a cupboard's shadow
        cv2.rectangle(img, p0, p1, jitter_colour(rng, (30, 30, 30), 0.3), -1)


def remove_people(img: U8, faces: Sequence[Face], rng: np.random.Generator) -> U8:
    """In-paint every detected person (head and torso) at low resolution."""
    h, w = img.shape[:2]
    if not faces:
        return img
    mask = np.zeros((h, w), np.uint8)
    for x, y, fw, fh, _ in faces:
        cx = x + fw / 2
        cv2.ellipse(
            mask, (int(cx), int(y + 0.4 * fh)), (int(0.9 * fw), int(1.1 * fh)), 0, 0, 360, 255, -1
        )
        torso = np.array(
            [
                [cx - 0.7 * fw, y + 1.0 * fh],
                [cx + 0.7 * fw, y + 1.0 * fh],
                [cx + 2.0 * fw, y + 1.7 * fh],
                [cx + 2.4 * fw, h],
                [cx - 2.4 * fw, h],
                [cx - 2.0 * fw, y + 1.7 * fh],
            ]
        )
        cv2.fillPoly(mask, [torso.astype(np.int32)], 255)
    mask = as_u8(cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))))
    s = 8
    small = cv2.resize(img, (w // s, h // s), interpolation=cv2.INTER_AREA)
    smask = (cv2.resize(mask, (w // s, h // s), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, smask * 255, 3, cv2.INPAINT_TELEA)
    up = cv2.GaussianBlur(cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 4)
    m = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 6)[..., None]
    noise = rng.normal(0, 2.0, (h, w, 1)).astype(np.float32)
    out = img.astype(np.float32) * (1 - m) + (up.astype(np.float32) + noise) * m
    return np.clip(out, 0, 255).astype(np.uint8)


def make_plate(
    rng: np.random.Generator, data: Data, finder: FaceFinder, w: int, h: int
) -> tuple[U8, dict[str, Any]]:
    """A background plate (sRGB, w×h) and what was drawn."""
    kind = pick(rng, ["room_photo", "clip_frame", "procedural"], p=[0.4, 0.15, 0.45])
    info: dict[str, Any] = {"kind": kind}
    img: U8 | None = None
    if kind == "room_photo" and (data.nuaa or data.msu):
        pool = data.nuaa if (chance(rng, 0.6) or not data.msu) and data.nuaa else data.msu
        rel = pick(rng, pool)
        img = read_image(data.root / rel)
        info["from"] = rel
    elif kind == "clip_frame" and data.clips:
        rel = pick(rng, data.clips)
        _, dur = clip_info(data.root / rel)
        frames, _ = read_clip(data.root / rel, uni(rng, 0, max(dur - 0.2, 0.1)), 0.0)
        img = frames[0] if frames else None
        info["from"] = rel
    if img is None:
        info["kind"] = "procedural"
        plate = procedural_room(rng, w, h)
    else:
        img = remove_people(img, finder.faces(img, 0.45), rng)
        ih, iw = img.shape[:2]
        aspect = w / h
        cw = min(iw, ih * aspect)
        cw *= uni(rng, 0.55, 1.0)
        ch = cw / aspect
        x0, y0 = uni(rng, 0, iw - cw), uni(rng, 0, ih - ch)
        crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
        plate = as_u8(cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC))
        if chance(rng, 0.5):
            plate = plate[:, ::-1].copy()
        info["crop"] = [round(x0), round(y0), round(cw), round(ch)]
    gains = np.array([uni(rng, 0.88, 1.12) for _ in range(3)], np.float32) * uni(rng, 0.75, 1.15)
    plate = np.clip(plate.astype(np.float32) * gains, 0, 255).astype(np.uint8)
    for x, y, fw, fh, _ in finder.faces(plate, 0.4):  # nobody else may be detectable
        x0i, y0i = max(int(x - fw), 0), max(int(y - fh), 0)
        x1i, y1i = min(int(x + 2 * fw), w), min(int(y + 2.5 * fh), h)
        if x1i > x0i and y1i > y0i:
            plate[y0i:y1i, x0i:x1i] = wide_blur(plate[y0i:y1i, x0i:x1i], max(fw, 4) / 2)
    info["gain"] = [round(float(g), 3) for g in gains]
    return plate, info


Img = TypeVar("Img", U8, F32)


def wide_blur(img: Img, sigma: float) -> Img:
    """A Gaussian blur of any width at the cost of a small one: wide ones are done on a copy
    shrunk to 4 px per σ (a direct blur of σ = 500 px takes a minute)."""
    if sigma <= 8:
        blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    else:
        h, w = img.shape[:2]
        k = sigma / 4
        size = (max(1, round(w / k)), max(1, round(h / k)))
        small = cv2.GaussianBlur(cv2.resize(img, size, interpolation=cv2.INTER_AREA), (0, 0), 4)
        blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out: Img = np.asarray(blurred, dtype=img.dtype)
    return out


def draw_attacker(
    rng: np.random.Generator, plate: U8, top: float, cx: float, width: float
) -> dict[str, Any]:
    """The attacker's torso (shoulders from ``top`` down, ``width`` wide) behind a held print."""
    h, w = plate.shape[:2]
    shirt = np.array(jitter_colour(rng, pick(rng, CLOTHES), 0.15), np.float32)
    sw = width
    nw = 0.13 * sw  # half the neck
    theta = np.linspace(0, np.pi / 2, 12)
    sx = nw + (0.5 * sw - nw) * np.sin(theta)  # the shoulder line, rounded
    sy = top + 0.06 * sw + 0.24 * sw * (1 - np.cos(theta))
    right = np.column_stack([cx + sx, sy])
    left = np.column_stack([cx - sx, sy])[::-1]
    pts = np.vstack(
        [
            [[cx - nw, top], [cx + nw, top]],
            right,
            [[cx + 0.54 * sw, h + 10], [cx - 0.54 * sw, h + 10]],
            left,
        ]
    )
    mask = poly_mask((h, w), pts)
    xs = np.arange(w, dtype=np.float32)
    shade = 0.72 + 0.28 * np.cos(np.clip((xs - cx) / (0.6 * sw), -1.5, 1.5))
    folds = cv2.resize(
        rng.normal(0, 1, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    colour = shirt[None, None, :] * (shade[None, :, None] * (1 + 0.06 * folds[..., None]))
    m = cv2.GaussianBlur(mask, (0, 0), 2)[..., None]
    body = plate.astype(np.float32) * (1 - m) + colour * m
    plate[:] = np.clip(body, 0, 255).astype(np.uint8)
    return {"torso": True, "shirt": [round(float(c)) for c in shirt]}
