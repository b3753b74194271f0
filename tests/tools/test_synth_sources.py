"""Where the synthetic attacks come from: clips of ``video/live`` and ``wild/live`` read upright
and on their own clock, every clip replayed, sources named as ``tools.sources`` names them, and
the provenance recorded with them."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tools.provenance import data_digest, git_commit
from tools.sources import clip_source, photo_source
from tools.synth.cli import plan
from tools.synth.data import Data, Source, read_clip


def write_clip(
    path: Path, pts: list[int], rotation: int = 0, codec: str = "libx264", fmt: str = "mp4"
) -> None:
    """A 64 × 48 clip whose frames show a white band along their top, timed by ``pts``
    (1/30 s), with a display rotation (counter-clockwise degrees)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=30)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        if rotation:
            stream.set_display_rotation(rotation)
        for p in pts:
            img = np.full((48, 64, 3), 30, np.uint8)
            img[:12] = 230
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = p, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_read_clip_turns_frames_upright_and_follows_their_timestamps(tmp_path: Path) -> None:
    clip = tmp_path / "turned.mp4"
    write_clip(clip, [0, 3, 7, 9, 15, 16], rotation=90)
    frames, times = read_clip(clip, 0.0, 1.0)
    assert np.allclose(times, np.array([0, 3, 7, 9, 15, 16]) / 30, atol=1e-6)
    # stored landscape with the band on top; turned 90° counter-clockwise, the band is on the
    # left of a portrait frame
    assert frames[0].shape == (64, 48, 3)
    assert frames[0][:, :8].mean() > 180
    assert frames[0][:, -20:].mean() < 80
    # from 0.25 s: the frame on screen then (shown since 7/30 s), then the later ones
    frames, times = read_clip(clip, 0.25, 0.2)
    assert np.allclose(times, np.array([7 - 7.5, 9 - 7.5]) / 30, atol=1e-6)
    frames, _ = read_clip(clip, 0.0, 1.0, max_side=32)
    assert frames[0].shape == (32, 24, 3)


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    """A data folder shaped like ``../shared/data`` with tiny files (no real faces)."""
    root = tmp_path / "data"
    write_clip(root / "video" / "live" / "liveportrait_d0.mp4", list(range(20)))
    write_clip(root / "video" / "live" / "apfol_real2.webm", list(range(20)), 0, "libvpx", "webm")
    write_clip(root / "wild" / "live" / "td_selfies__61dc1a_4_ef391c2.mp4", list(range(20)))
    write_clip(root / "wild" / "live" / "td_selfies__61dc1b_8_1c3d14b.MOV", list(range(20)), 0,
               "libx264", "mov")  # fmt: skip
    write_clip(root / "wild" / "live" / "live_sivakumar__Arun.mp4", list(range(20)), 90)
    img = np.full((48, 64, 3), 128, np.uint8)
    for rel in (
        "nuaa/live/0001_0001_00_00_01_1.jpg",
        "nuaa/live/0002_0002_00_00_01_1.jpg",
        "msu/live/real_client001_android_SD_scene01.jpg",
        "lfw/Ada_Lovelace/Ada_Lovelace_0001.jpg",
        "lfw/Alan_Turing/Alan_Turing_0001.jpg",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), img)
    return root


def expected_group(src: Source) -> str:
    return clip_source(src.path) if src.dataset == "clip" else photo_source(src.dataset, src.path)


def test_plan_replays_every_clip_of_both_folders_and_names_sources(fake_data: Path) -> None:
    data = Data.scan(fake_data)
    assert data.clips == [
        "video/live/apfol_real2.webm",
        "video/live/liveportrait_d0.mp4",
        "wild/live/live_sivakumar__Arun.mp4",
        "wild/live/td_selfies__61dc1a_4_ef391c2.mp4",
        "wild/live/td_selfies__61dc1b_8_1c3d14b.MOV",
    ]
    jobs = plan(data, 0, 20, 1.0, fake_data / "out")
    replays = [j for j in jobs if j.kind == "replay"]
    prints = [j for j in jobs if j.kind == "print"]
    assert len(replays) == len(prints) == 20
    assert {j.sources[0].path for j in replays} == set(data.clips)
    assert all(s.dataset == "clip" for j in replays for s in j.sources)
    for job in jobs:
        for src in job.sources:
            assert src.group == expected_group(src), src
    clip_groups = {clip_source(c) for c in data.clips}
    assert clip_groups == {"apfol", "liveportrait", "live_sivakumar:Arun", "td_selfies:61dc1a",
                           "td_selfies:61dc1b"}  # fmt: skip
    # prints grab frames from every clip source, the wild ones included
    assert {j.sources[0].group for j in prints if j.sources[0].dataset == "clip"} == clip_groups
    assert {j.sources[0].dataset for j in prints} == {"nuaa", "msu", "lfw", "clip"}
    assert sum(j.hard for j in prints) == sum(j.hard for j in replays) == 5


def test_data_digest_follows_names_and_sizes(fake_data: Path) -> None:
    files = Data.scan(fake_data).files()
    assert len(files) == 10
    digest = data_digest(fake_data, files)
    assert digest == data_digest(fake_data, list(reversed(files)))
    (fake_data / files[0]).write_bytes((fake_data / files[0]).read_bytes() + b"x")
    assert data_digest(fake_data, files) != digest
    assert data_digest(fake_data, files[1:]) != data_digest(fake_data, files)


def test_git_commit_names_head_and_marks_changes(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-q", "-m", "a")
    head = git("rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "b.txt").write_text("b")
    assert git_commit(tmp_path) == head + "-dirty"
    (tmp_path / "b.txt").unlink()
    (tmp_path / "a.txt").write_text("changed")
    assert git_commit(tmp_path) == head + "-dirty"
