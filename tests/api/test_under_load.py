"""Load makes answers slower, never different (issue 17): the same uploads answered on a machine
whose cores are all kept busy by processes this test starts give the same codes and the same
scores as on an idle one. No limit of the decoders depends on time any more (only a net for a
stuck decoder, whose expiry would be 503)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facegate.core.crypto import Cipher
from facegate.core.video import decode_video
from tests.api.helpers import enc
from tests.conftest import lfw_photo

pytestmark = [pytest.mark.models, pytest.mark.data]

VERIFY = "/identity/image_verification/stateless"
SILENT = "/liveness/silent_detection/stateless"


def _spin() -> None:
    while True:
        pass


@contextmanager
def saturated(per_core: int = 2) -> Iterator[None]:
    """Every core kept busy (twice over) by processes of our own, until the block ends."""
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_spin, daemon=True) for _ in range(per_core * (os.cpu_count() or 2))
    ]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        for w in workers:
            w.kill()
        for w in workers:
            w.join()


def answers(client: TestClient, cipher: Cipher, lfw: Path, videos: Path) -> list[dict[str, Any]]:
    out = []
    for clip in ("live/tranvanluyt_real.mp4", "replay/apfol_fake2.webm", "live/apfol_real2.webm"):
        video = enc(cipher, (videos / clip).read_bytes())
        r = client.post(SILENT, data={"encrypted_video": video, "return_status": "true"})
        out.append({"status": r.status_code, **r.json()})
    first, second = lfw_photo(lfw, "Colin_Powell", 1), lfw_photo(lfw, "Colin_Powell", 2)
    r = client.post(VERIFY, data={"first_encrypted_image": enc(cipher, first),
                                  "second_encrypted_image": enc(cipher, second)})  # fmt: skip
    out.append({"status": r.status_code, **r.json()})
    for a in out:
        a.pop("request_id", None)
    return out


def test_a_saturated_machine_gives_the_same_answers(
    client: TestClient, cipher: Cipher, lfw: Path, videos: Path
) -> None:
    idle = answers(client, cipher, lfw, videos)
    with saturated():
        busy = answers(client, cipher, lfw, videos)
    assert busy == idle
    assert [a["code"] for a in idle] == [1000] * 4


def test_a_video_decodes_to_the_same_frames_under_load(videos: Path) -> None:
    data = (videos / "live" / "apfol_real2.webm").read_bytes()
    idle = decode_video(data)
    with saturated():
        busy = decode_video(data)
    assert busy.duration == idle.duration
    assert [f.timestamp for f in busy.frames] == [f.timestamp for f in idle.frames]
    assert all((a.pixels == b.pixels).all() for a, b in zip(busy.frames, idle.frames, strict=True))
