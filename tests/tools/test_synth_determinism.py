"""A seed gives the same videos: the same frames and the same file bytes, whatever the process
and its OpenCV thread count; another seed gives other videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.sources import clip_source, photo_source
from tools.synth.camera import random_encoder
from tools.synth.cli import Job, job_rng, make_video, render_frames
from tools.synth.data import Data, FaceFinder, Source
from tools.synth.prints import build_print
from tools.synth.replays import build_replay

pytestmark = [pytest.mark.data, pytest.mark.models]

SECONDS = 0.25


@pytest.fixture(scope="module")
def data(data_dir: Path) -> Data:
    return Data.scan(data_dir)


@pytest.fixture(scope="module")
def finder() -> FaceFinder:
    return FaceFinder()


def photo(data: Data) -> Source:
    """An LFW photo (a clear, frontal face)."""
    person = "Colin_Powell" if "Colin_Powell" in data.lfw_people else data.lfw_people[0]
    return Source.photo("lfw", data.lfw_images(person)[0])


def wild_clip(data: Data) -> Source:
    """A phone clip stored sideways (rotation tag 90°)."""
    path = "wild/live/live_sivakumar__Arun.mp4"
    if path not in data.clips:
        pytest.skip(f"{path} is not in the data folder")
    return Source.clip(path)


def frames_of(job: Job, data: Data, finder: FaceFinder) -> np.ndarray:
    """The frames of the job's first attempt, before encoding."""
    rng = job_rng(job, 0)
    build = build_print if job.kind == "print" else build_replay
    scene, cam, n, _ = build(rng, data, finder, job.sources[0], job.hard, job.seconds)
    random_encoder(rng, cam.fps)  # drawn before rendering, as make_video does
    return np.stack(list(render_frames(scene, cam, n)))


def test_rendering_a_job_twice_gives_the_same_frames(data: Data, finder: FaceFinder) -> None:
    job = Job("print", 3, 15, False, SECONDS, "unused", (photo(data),))
    first = frames_of(job, data, finder)
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)  # as in a worker process
        second = frames_of(job, data, finder)
    finally:
        cv2.setNumThreads(threads)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("kind", ["print", "replay"])
def test_a_seed_gives_the_same_video_file_and_entry(
    kind: str, data: Data, finder: FaceFinder, tmp_path: Path
) -> None:
    src = photo(data) if kind == "print" else wild_clip(data)
    made = {}
    for name, seed in (("a", 6), ("b", 6), ("c", 8)):
        (tmp_path / name / kind).mkdir(parents=True)
        job = Job(kind, 0, seed, False, SECONDS, str(tmp_path / name), (src,))
        made[name] = make_video(job, data, finder)["entry"]
        assert made[name] is not None, f"seed {seed}: no video"
    a, b, c = ((tmp_path / k / made[k]["file"]).read_bytes() for k in "abc")
    assert a == b
    assert made["a"] == made["b"]
    assert a != c
    assert made["a"]["params"] != made["c"]["params"]
    entry = made["a"]
    if kind == "print":
        assert (
            entry["group"] == photo_source("lfw", src.path) == "lfw:" + Path(src.path).parent.name
        )
        assert entry["clip"] is None
    else:
        assert entry["group"] == clip_source(src.path) == "live_sivakumar:Arun"
        assert entry["clip"]["path"] == src.path
        assert entry["clip"]["start_s"] >= 0
        assert entry["clip"]["seconds"] == pytest.approx(SECONDS)
