"""The filming camera: pinhole intrinsics, vignetting, lens blur, auto-exposure, white balance,
shot and read noise with a denoiser, tone curve, sharpening, and the H.264 encode.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from tools.synth.basics import F32, F64, LUMA, U8, as_f32, as_u8, chance, pick, srgb_encode, uni


@dataclass
class Camera:
    """Sensor and pipeline: vignetting, lens blur, AE, white balance, noise, tone curve."""

    W: int
    H: int
    fps: int
    K: F64
    exposure: float  # exposure time / frame interval
    wb: F32
    ae_target: float
    ae_tau: float
    hunt: tuple[float, float, float]  # amplitude, frequency, phase of AE hunting
    lens_sigma: float
    shot: float
    read: float
    noise_blur: float
    sharpen: float
    saturation: float
    lut: U8
    vignette: F32
    meter: F32
    rng: np.random.Generator
    gain: float = -1.0
    params: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def random(rng: np.random.Generator, img_w: int, img_h: int, fps: int) -> Camera:
        f = max(img_w, img_h) * uni(rng, 0.7, 1.0)
        kmat = np.array([[f, 0, (img_w - 1) / 2], [0, f, (img_h - 1) / 2], [0, 0, 1]])
        yy, xx = np.mgrid[0:img_h, 0:img_w].astype(np.float32)
        r2 = ((xx - img_w / 2) ** 2 + (yy - img_h / 2) ** 2) / ((img_w / 2) ** 2 + (img_h / 2) ** 2)
        vig = uni(rng, 0.08, 0.4)
        mh, mw = img_h // 8, img_w // 8
        my, mx = np.mgrid[0:mh, 0:mw].astype(np.float32)
        spot = uni(rng, 0.22, 0.35)  # centre-weighted metering, as for a face in the middle
        meter = np.exp(-(((mx - mw / 2) / (spot * mw)) ** 2 + ((my - mh / 2) / (spot * mh)) ** 2))
        meter = uni(rng, 0.08, 0.2) + meter
        meter /= meter.sum()
        x = np.arange(4096) / 2048.0
        knee = uni(rng, 0.55, 0.85)
        y = np.where(x < knee, x, knee + (1 - knee) * (1 - np.exp(-(x - knee) / (1 - knee))))
        s = srgb_encode(y)
        c = uni(rng, 0.0, 0.45)
        s = (1 - c) * s + c * (3 * s**2 - 2 * s**3)
        lift = uni(rng, 0.0, 0.015)
        s = lift + (1 - lift) * s
        lut = np.clip(np.round(s * 255), 0, 255).astype(np.uint8)
        iso = uni(rng, 0, 1)  # dim scenes: more gain, more noise
        cam = Camera(
            W=img_w,
            H=img_h,
            fps=fps,
            K=kmat,
            exposure=uni(rng, 0.25, 0.9),
            wb=np.array([uni(rng, 0.9, 1.1), 1.0, uni(rng, 0.9, 1.1)], np.float32),
            ae_target=uni(rng, 0.15, 0.24),
            ae_tau=uni(rng, 0.2, 1.0),
            hunt=(
                uni(rng, 0, 0.04) if chance(rng, 0.4) else 0.0,
                uni(rng, 0.3, 1.5),
                uni(rng, 0, 6.3),
            ),
            lens_sigma=uni(rng, 0.3, 0.8),
            shot=0.0004 + 0.0018 * iso,
            read=0.001 + 0.003 * iso,
            noise_blur=uni(rng, 0.5, 1.2),
            sharpen=uni(rng, 0.0, 0.5),
            saturation=uni(rng, 0.85, 1.15),
            lut=lut,
            vignette=(1 - vig * r2)[..., None].astype(np.float32),
            meter=meter.astype(np.float32),
            rng=rng,
        )
        cam.params = {
            "fps": fps,
            "size": [img_w, img_h],
            "hfov_deg": round(math.degrees(2 * math.atan(img_w / 2 / f)), 1),
            "exposure": round(cam.exposure, 3),
            "wb": [round(float(v), 3) for v in cam.wb],
            "ae_target": round(cam.ae_target, 3),
            "ae_tau_s": round(cam.ae_tau, 2),
            "ae_hunt": round(cam.hunt[0], 3),
            "vignette": round(vig, 3),
            "lens_sigma": round(cam.lens_sigma, 2),
            "noise_level": round(iso, 3),
            "denoise_sigma": round(cam.noise_blur, 2),
            "sharpen": round(cam.sharpen, 2),
            "saturation": round(cam.saturation, 3),
            "tone_knee": round(knee, 3),
            "tone_s_curve": round(c, 3),
        }
        return cam

    def develop(self, lin: F32, t: float) -> U8:
        x = lin * self.vignette
        if self.lens_sigma > 0.35:
            x = as_f32(cv2.GaussianBlur(x, (0, 0), self.lens_sigma))
        small = cv2.resize(x, (self.W // 8, self.H // 8), interpolation=cv2.INTER_AREA)
        meter = float(((small @ LUMA) * self.meter).sum())
        target = self.ae_target / max(meter, 1e-4)
        if self.gain < 0:
            self.gain = target * uni(self.rng, 0.88, 1.12)  # AE still settling
        else:
            self.gain += (target - self.gain) * (1 - math.exp(-1 / (self.fps * self.ae_tau)))
        amp, freq, phase = self.hunt
        g = self.gain * (1 + amp * math.sin(2 * math.pi * freq * t + phase))
        x *= self.wb * g
        if self.saturation != 1.0:
            lum = (x @ LUMA)[..., None]
            x -= lum
            x *= self.saturation
            x += lum
        # sensor noise (shot + read), then the pipeline's spatial denoiser, which lowers and
        # coarsens it; uniform samples (std 1/√12) are cheaper than normal ones and the blur
        # makes them Gaussian
        noise = self.rng.random(x.shape, dtype=np.float32)
        noise -= 0.5
        noise = as_f32(cv2.GaussianBlur(noise, (0, 0), self.noise_blur))
        sigma = np.maximum(x, 0)
        sigma *= 12 * self.shot
        sigma += 12 * self.read**2
        np.sqrt(sigma, out=sigma)
        noise *= sigma
        x += noise
        x *= 2048.0
        np.clip(x, 0, 4095, out=x)
        idx = x.astype(np.uint16)
        out: U8 = self.lut[idx]
        if self.sharpen > 0.05:
            blur = cv2.GaussianBlur(out, (0, 0), 1.0)
            out = as_u8(cv2.addWeighted(out, 1 + self.sharpen, blur, -self.sharpen, 0))
        return out


# Frame sizes (landscape; portrait swaps them) and their shares: mostly VGA, some HD (phones),
# some CIF/QCIF (old phones, 3gp, low-bandwidth webcams). H.264 4:2:0 needs even sides.
SIZES = {"vga": [(640, 480)], "hd": [(1280, 720)], "small": [(352, 288), (176, 144)]}
SIZE_SHARES = {"vga": 0.8, "hd": 0.1, "small": 0.1}
FRAME_RATES = ([30, 25, 15], [0.55, 0.33, 0.12])


def random_size(rng: np.random.Generator, portrait: bool) -> tuple[int, int]:
    """A frame size (w, h)."""
    cls = pick(rng, list(SIZE_SHARES), p=list(SIZE_SHARES.values()))
    w, h = pick(rng, SIZES[cls])
    return (h, w) if portrait else (w, h)


def face_room(img_w: int, img_h: int) -> float:
    """The width that attack faces are sized against: the frame's, or for a frame wider than
    4:3 that of a 4:3 frame of its height (a face 45 % as wide as a 16:9 frame would not fit
    its height)."""
    return min(img_w, img_h * 4 / 3)


def random_fps(rng: np.random.Generator) -> int:
    return int(pick(rng, FRAME_RATES[0], p=FRAME_RATES[1]))


def random_encoder(rng: np.random.Generator, fps: int) -> dict[str, Any]:
    return {
        "crf": int(rng.integers(18, 31)),
        "preset": pick(rng, ["superfast", "veryfast", "faster", "fast"]),
        "profile": pick(rng, ["main", "high", "high"]),
        "keyint": int(pick(rng, [fps, 2 * fps, 4 * fps, 250])),
        "bframes": int(pick(rng, [0, 0, 2, 3])),
    }


def encode(
    path: Path, frames: Iterator[U8], fps: int, size: tuple[int, int], enc: dict[str, Any]
) -> int:
    """H.264 (libx264, yuv420p) MP4; returns the frame count."""
    n = 0
    with av.open(str(path), mode="w", format="mp4") as out:
        keyint = enc["keyint"]
        params = f"keyint={keyint}:min-keyint={min(keyint, fps)}:bframes={enc['bframes']}:threads=1"
        stream = out.add_stream(
            "libx264",
            rate=fps,
            options={
                "crf": str(enc["crf"]),
                "preset": enc["preset"],
                "profile": enc["profile"],
                "x264-params": params,
            },
        )
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
            n += 1
        out.mux(stream.encode(None))
    return n


def middle_frame(path: Path, n: int) -> U8 | None:
    """Frame ``n // 2`` of a video of ``n`` frames, decoded from the file."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n // 2:
                out = as_u8(frame.to_ndarray(format="bgr24"))
                return out
    return None
