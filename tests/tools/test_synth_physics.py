"""The synthetic attacks' physics, measured on rendered frames as a liveness cue would see them:
a flat print moves as one plane (a homography), a bent one does not; a screen shows its panel's
pixel grid at the frequency its geometry predicts."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from tools.synth.basics import F64, U8
from tools.synth.camera import Camera
from tools.synth.geometry import Bend, Planar, Pose, project, still_wobble, to_camera
from tools.synth.prints import PrintScene
from tools.synth.replays import ReplayScene, Screen, SubpixelGrid
from tools.synth.rooms import PLATE_MARGIN, procedural_room


def camera(seed: int, size: tuple[int, int]) -> Camera:
    cam = Camera.random(np.random.default_rng(seed), *size, 30)
    cam.hunt = (0.0, 1.0, 0.0)  # no exposure hunting between the two frames compared
    return cam


def room(seed: int, size: tuple[int, int]) -> U8:
    rng = np.random.default_rng(seed)
    return procedural_room(rng, round(size[0] * PLATE_MARGIN), round(size[1] * PLATE_MARGIN))


def checker_sheet(mm: float, cols: int = 10, rows: int = 8, cell: int = 24) -> Planar:
    """A sheet of random grey squares (corners to track), centred on the object origin."""
    rng = np.random.default_rng(5)
    levels = rng.uniform(0.05, 0.8, (rows, cols)).astype(np.float32)
    grey = np.kron(levels, np.ones((cell, cell), np.float32))
    tex = np.ones((*grey.shape, 4), np.float32)
    tex[..., :3] = grey[..., None]
    h, w = grey.shape
    return Planar(tex, mm, np.array([-w * mm / 2, -h * mm / 2, 0.0]))


def print_scene(bend: Bend | None) -> PrintScene:
    """A 240 × 192 mm sheet 45 cm from a 640 × 480 camera, turning and sliding slowly."""
    sheet = checker_sheet(1.0)
    wobble = still_wobble()
    wobble = type(wobble)(
        amp=wobble.amp,
        freq=wobble.freq,
        phase=wobble.phase,
        drift_amp=np.array([6.0, -4.0, 3.0, 15.0, -10.0, 30.0]),
        drift_freq=np.full(6, 0.3),
        drift_phase=np.zeros(6),
        ramp=np.zeros(6),
    )
    pose = Pose(np.array([8.0, -5.0, 3.0]), np.array([0.0, 0.0, 450.0]), wobble)
    light = np.array([0.3, -0.5, -1.0])
    return PrintScene(
        camera(1, (640, 480)),
        room(2, (640, 480)),
        0.8,
        still_wobble(),
        2000.0,
        sheet,
        pose,
        light / np.linalg.norm(light),
        0.5,
        1.0,
        np.zeros(3),
        None,
        None,
        bend,
    )


def frames(scene: PrintScene | ReplayScene, times: tuple[float, ...]) -> list[U8]:
    return [scene.cam.develop(scene.render(t, t), t) for t in times]


def homography_residual(scene: PrintScene, t0: float, t1: float) -> tuple[float, int]:
    """Median distance (px) of corners tracked on the sheet from frame t0 to t1 to the one
    homography that fits them all best (least squares), and how many were tracked."""
    a, b = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames(scene, (t0, t1)))
    rot, trans = scene.object_pose(t0)
    outline = project(scene.K, to_camera(rot, trans, scene.paper.corners()))
    sheet = np.zeros(a.shape, np.uint8)
    cv2.fillConvexPoly(sheet, outline.round().astype(np.int32), 255)
    mask = cv2.erode(sheet, np.ones((15, 15), np.uint8))
    p0 = cv2.goodFeaturesToTrack(a, 300, 0.02, 6, mask=mask)
    p1, status, _ = cv2.calcOpticalFlowPyrLK(
        a, b, p0, np.empty_like(p0), winSize=(21, 21), maxLevel=3
    )
    ok = status.ravel() == 1
    src, dst = p0[ok].reshape(-1, 2), p1[ok].reshape(-1, 2)
    hom, _ = cv2.findHomography(src, dst, 0)
    fitted = cv2.perspectiveTransform(src[None], hom)[0]
    return float(np.median(np.linalg.norm(fitted - dst, axis=1))), len(src)


def test_a_rigid_print_moves_as_one_plane_and_a_flexing_one_does_not() -> None:
    rigid, n_rigid = homography_residual(print_scene(None), 0.1, 0.6)
    # a cylinder as wide in radius as the sheet, flexing by ±25 % at 0.5 Hz: its curvature
    # grows by 16 % between the frames
    flex = Bend(True, 1 / 240, 0.25, 0.5, 0.0, np.zeros((3, 1)), 12)
    bent, n_bent = homography_residual(print_scene(flex), 0.1, 0.6)
    assert min(n_rigid, n_bent) >= 40, (n_rigid, n_bent)
    # the rigid sheet's residual is the tracker's own error (measured 0.14 px, the same without
    # sensor noise); the flexing one's is its shape (measured 0.88 px)
    assert rigid < 0.3, rigid
    assert bent > 0.5, bent
    assert bent > 3 * rigid, (bent, rigid)


def test_a_bent_sheet_is_shaded_across_its_bend() -> None:
    """Facets facing other ways are lit differently (Lambert): across a sheet bent about a
    vertical axis the brightness of an evenly grey sheet changes from edge to edge."""
    scene = print_scene(Bend(True, 1 / 240, 0.0, 0.5, 0.0, np.zeros((3, 1)), 12))
    scene.paper.tex[..., :3] = 0.4
    lin = scene.render(0.0, 0.0)
    rot, trans = scene.object_pose(0.0)
    assert scene.bend is not None
    sheet = scene.bend.bent(scene.paper.corners(), scene.bend.curvature(0.0))
    left, right = project(scene.K, to_camera(rot, trans, sheet))[[0, 1]]
    y = int((left[1] + right[1]) / 2) + 40
    xs = np.linspace(left[0] + 12, right[0] - 12, 7).round().astype(int)
    row = lin[y, xs, 1]
    assert float(row.max() - row.min()) > 0.1 * float(row.mean()), row


def replay_scene(period_px: float | None) -> ReplayScene:
    """A 100 × 70 mm screen, frontal, filling most of the frame, showing flat grey; its panel
    pixels are ``period_px`` output pixels apart (None: no pixel grid)."""
    cam = camera(3, (320, 240))
    cam.lens_sigma = 0.3
    f = float(cam.K[0, 0])
    sw_mm, sh_mm = 100.0, 70.0
    dist = f * sw_mm / 260
    sw_px, sh_px = 260, round(260 * sh_mm / sw_mm)
    grid = SubpixelGrid(
        vertical=True,
        order=(2 / 3, 1 / 3, 0.0),
        depth=0.8 if period_px else 0.0,
        gap=0.3 if period_px else 0.0,
        aperture=0.3,
        cells_per_texel=1 / period_px if period_px else 0.5,
    )
    v = np.arange(256) / 255.0
    screen = Screen(
        planar=Planar(
            np.zeros((sh_px, sw_px, 3), np.float32),
            sw_mm / sw_px,
            np.array([-sw_mm / 2, -sh_mm / 2, 0.0]),
        ),
        frames=[np.full((48, 64, 3), 150, np.uint8)],
        times=np.zeros(1),
        src_fps=30.0,
        content_fps=30.0,
        content_phase=0.0,
        canvas=np.zeros((sh_px, sw_px, 3), np.uint8),
        dest=(0, 0, sw_px, sh_px),
        crop=(0, 0, 64, 48),
        luts=np.stack([v**2.2] * 3).astype(np.float32),
        saturation=1.0,
        grid=grid,
        progress=None,
    )
    body = Planar(np.zeros((4, 4, 4), np.float32), sw_mm / 4, np.array([-sw_mm / 2, -sh_mm / 2, 0]))
    pose = Pose(np.zeros(3), np.array([0.0, 0.0, dist]), still_wobble())
    light = np.array([0.0, 0.0, -1.0])
    return ReplayScene(
        cam, room(4, (320, 240)), 0.5, still_wobble(), 2000.0, body, screen, pose, light, 0.5, 1.0,
        None, None, None, None, 0.0, np.zeros(3), None,
    )  # fmt: skip


def spectrum_peak(img: U8, around: tuple[float, float]) -> tuple[float, F64]:
    """Magnitude and (fx, fy) (cycles per pixel) of the strongest spectral line within 0.05
    cycles/px of ``around``, in a 160 px square at the centre of the green channel."""
    n = 160
    y0, x0 = (img.shape[0] - n) // 2, (img.shape[1] - n) // 2
    g = img[y0 : y0 + n, x0 : x0 + n, 1].astype(np.float64)
    win = np.outer(np.hanning(n), np.hanning(n))
    mag = np.abs(np.fft.fftshift(np.fft.fft2((g - g.mean()) * win)))
    freqs = np.fft.fftshift(np.fft.fftfreq(n))
    fy, fx = np.meshgrid(freqs, freqs, indexing="ij")
    near = np.hypot(fx - around[0], fy - around[1]) < 0.05
    k = int(np.argmax(np.where(near, mag, 0)))
    iy, ix = divmod(k, n)
    # sub-bin position of the line along x (parabola through the peak and its neighbours)
    left, mid, right = mag[iy, ix - 1], mag[iy, ix], mag[iy, ix + 1]
    dx = 0.5 * (left - right) / (left - 2 * mid + right)
    return float(mid), np.array([freqs[ix] + dx / n, freqs[iy]])


@pytest.mark.parametrize("period_px", [2.5, 3.2])
def test_a_replay_shows_the_panel_pixel_grid_at_its_predicted_frequency(period_px: float) -> None:
    on = frames(replay_scene(period_px), (0.0,))[0]
    off = frames(replay_scene(None), (0.0,))[0]
    # the screen is frontal, so its homography (texel → output pixel) is a scaling: a texel is
    # hom[0, 0] / hom[2, 2] output pixels wide and holds cells_per_texel panel pixels
    scene = replay_scene(period_px)
    hom = scene.screen.planar.homography(scene.K, np.eye(3), scene.pose.t)
    predicted = hom[0, 0] / hom[2, 2] / scene.screen.grid.cells_per_texel
    assert math.isclose(predicted, period_px, rel_tol=0.01), predicted
    peak_on, freq = spectrum_peak(on, (1 / period_px, 0.0))
    peak_off, _ = spectrum_peak(off, (1 / period_px, 0.0))
    assert abs(1 / freq[0] - predicted) < 0.02 * predicted, 1 / freq[0]
    assert abs(freq[1]) < 1e-9
    assert peak_on > 20 * peak_off, (peak_on, peak_off)
