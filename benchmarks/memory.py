"""Peak resident memory of the service under its worst admitted inputs (issue 17, point 3).

    python -m benchmarks.memory --data ../shared/data --json benchmarks/results/memory.json

For each endpoint, a fresh ``facegate serve`` (inference in-process) with ``HANDLERS`` = 1 and
2 and no queue gets ``HANDLERS`` of its worst admitted requests at once, so that every handler
computes one; the process's peak resident set (``VmHWM``, reset after start-up with
``/proc/<pid>/clear_refs``) is recorded. The inputs are the largest the defaults admit, with a
real face in them so that the whole pipeline runs:

- photos (1.1, 2.1): a face photo of ``lfw/`` scaled to 5000 × 5000 px
  (``FACEGATE_MAX_IMAGE_SIDE``), kept under 5 MiB (``FACEGATE_MAX_IMAGE_BYTES``);
- video (3.1): a live clip of ``video/live`` scaled to 1920 × 1080 at 30 frames/s for 10 s, more
  than the 8 s of 1080p30 the decoder is allowed to decode;
- package (1.3): 100 frames of 1920 × 1920 px: their decoded pixels hit the package budget
  (60 × 1280² px together).

A second run per handler count adds the queue: 4 × ``HANDLERS`` more of the largest request
bodies waiting (the default ``FACEGATE_WORKER_QUEUE``). The rule fitted from these runs, peak ≈
idle + HANDLERS × (worst request) + queue × (largest body), is what ``docs/reliability.md`` gives
and what the Kubernetes limits are set from; ``tests/ops/test_memory.py`` holds a process to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import cv2
import httpx
import numpy as np

from benchmarks.load import FACEGATE, Proc, free_port
from facegate.core.crypto import Cipher
from facegate.core.package import LivenessPackage, Mode, PackageFrame
from facegate.proto.codec import package_key, seal
from facegate.sdk.capture import video_frames
from facegate.settings import Settings

MiB = 2**20
FORM = {"content-type": "application/x-www-form-urlencoded"}
VERIFY = "/identity/image_verification/stateless"
QUALITY = "/quality/face/stateless"
SILENT = "/liveness/silent_detection/stateless"
PACKAGE = "/identity/liveness_image_verification/stateless"


def jpeg(image: np.ndarray, limit: int) -> bytes:
    """The image as the best-quality JPEG under ``limit`` bytes."""
    for quality in (95, 90, 80, 70, 60, 50, 40):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= limit:
            return bytes(np.asarray(buf).tobytes())
    raise ValueError(f"no JPEG of this image under {limit} bytes")


def big_photo(data: Path, side: int, limit: int) -> bytes:
    face = cv2.imread(str(sorted((data / "lfw").rglob("*.jpg"))[0]))
    return jpeg(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC), limit)


def big_video(data: Path, path: Path, seconds: float = 10.0) -> bytes:
    """A live clip scaled to 1080p30 and looped to ``seconds``, as H.264 in MP4."""
    frames = [f for _, f in video_frames(sorted((data / "video" / "live").glob("*.mp4"))[0])]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"crf": "30", "preset": "ultrafast"}
        for i in range(int(seconds * 30)):
            image = cv2.resize(frames[i % len(frames)], (1920, 1080))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def big_packages(
    data: Path, key: bytes, copies: int, count: int = 100, side: int = 1920
) -> list[bytes]:
    frames = [f for _, f in video_frames(sorted((data / "video" / "live").glob("*.mp4"))[0])]
    step = max(1, len(frames) // count)
    jpegs = [jpeg(cv2.resize(frames[(i * step) % len(frames)], (side, side)), 160_000)
             for i in range(count)]  # fmt: skip
    package = LivenessPackage(
        "benchmark", "1", "memory", datetime.now(UTC), Mode.SILENT,
        tuple(PackageFrame(j, i * 100) for i, j in enumerate(jpegs)),
    )  # fmt: skip
    return [seal(package, package_key(key)) for _ in range(copies)]  # a fresh nonce each


@dataclass
class Request:
    path: str
    body: bytes | None = None  # form-urlencoded
    packages: list[bytes] | None = None  # multipart: one sealed package per request (each
    data: dict[str, str] | None = None  # verifies once), with these fields

    @property
    def size(self) -> int:
        if self.body is not None:
            return len(self.body)
        return len((self.packages or [b""])[0]) + sum(len(v) for v in (self.data or {}).values())


def worst_requests(data: Path, scratch: Path) -> dict[str, Request]:
    s = Settings()
    cipher = Cipher(s.decrypt_key, s.decrypt_iv)
    photo = cipher.encrypt(big_photo(data, s.max_image_side, s.max_image_bytes))
    video = cipher.encrypt(big_video(data, scratch / "big.mp4"))
    small = cipher.encrypt(big_photo(data, 640, s.max_image_bytes))
    packages = big_packages(data, s.decrypt_key, copies=16)  # more than one run sends
    return {
        "warm": Request(VERIFY, pair(small, small)),
        "image_verification (1.1)": Request(VERIFY, pair(photo, photo)),
        "quality (2.1)": Request(QUALITY, urlencode({"encrypted_image": photo}).encode()),
        "silent_detection (3.1)": Request(SILENT, urlencode({"encrypted_video": video}).encode()),
        "liveness_image_verification (1.3)": Request(
            PACKAGE,
            packages=packages,
            data={"encrypted_image": small},
        ),
    }


def pair(first: str, second: str) -> bytes:
    return urlencode({"first_encrypted_image": first, "second_encrypted_image": second}).encode()


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def burst(url: str, request: Request, n: int) -> list[int]:
    async with httpx.AsyncClient(timeout=300) as client:

        async def one(i: int) -> int:
            if request.packages is None:
                r = await client.post(url + request.path, content=request.body, headers=FORM)
            else:
                package = ("p.fglv", request.packages[i], "application/octet-stream")
                files = {"liveness_file": package}
                r = await client.post(url + request.path, files=files, data=request.data)
            return r.status_code

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def measure(
    request: Request, handlers: int, queue: int, logs: Path, warm: Request
) -> dict[str, Any]:
    port = free_port()
    # A data folder of its own: packages seen by an earlier run are not replays to this one.
    folder = tempfile.mkdtemp(prefix="memory-", dir=logs)
    env = {**os.environ, "HANDLERS": str(handlers), "FACEGATE_WORKER_QUEUE": str(queue),
           "FACEGATE_DATA_DIR": folder}  # fmt: skip
    proc = Proc(
        "api", [FACEGATE, "serve", "--host", "127.0.0.1", "--port", str(port)], env,
        logs / f"memory-{port}.log", f"http://127.0.0.1:{port}/healthcheck",
    )  # fmt: skip
    proc.start()
    try:
        proc.wait_healthy(120)
        url = f"http://127.0.0.1:{port}"
        assert proc.popen is not None
        pid = proc.popen.pid
        asyncio.run(burst(url, warm, 1))  # a small verification: the face models loaded
        idle = vm_hwm_mb(pid)
        reset_peak(pid)
        statuses = asyncio.run(burst(url, request, handlers + queue))
        return {"handlers": handlers, "queue": queue, "idle_peak_mb": round(idle, 1),
                "peak_mb": round(vm_hwm_mb(pid), 1), "statuses": statuses}  # fmt: skip
    finally:
        proc.stop()


# The documented rule adds this headroom to each measured term and rounds it up to 50 MB: the
# allocator's layout differs from run to run (two handlers peaked lower than one in some runs).
HEADROOM = 1.15


def _up(mb: float, step: int = 50) -> int:
    return int(-(-mb * HEADROOM // step) * step)


def documented_mb(rule: dict[str, Any], handlers: int, queue: int) -> int:
    """Peak resident memory (MB) to plan for with ``HANDLERS`` and ``FACEGATE_WORKER_QUEUE``."""
    d = rule["documented"]
    return int(d["idle_mb"] + handlers * d["per_handler_mb"] + queue * d["per_queued_mb"])


def rule_of(runs: dict[str, list[dict[str, Any]]], queued: list[dict[str, Any]]) -> dict[str, Any]:
    """peak ≈ idle + HANDLERS × (the worst request) + queue × (a waiting body), each term the
    largest the runs show."""
    idle = max(r["idle_peak_mb"] for rs in runs.values() for r in rs)
    per_request = {
        name: round(max((r["peak_mb"] - idle) / r["handlers"] for r in rs), 1)
        for name, rs in runs.items()
    }
    worst_name = max(per_request, key=per_request.__getitem__)
    worst = per_request[worst_name]
    # Beyond what its HANDLERS computing requests of the same endpoint take.
    per_queued = max(
        0.0,
        *(
            (q["peak_mb"] - idle - q["handlers"] * per_request[q["endpoint"]]) / q["queue"]
            for q in queued
        ),
    )
    return {
        "idle_mb": round(idle, 1),
        "per_handler_mb": worst,
        "worst_endpoint": worst_name,
        "per_queued_mb": round(per_queued, 1),
        "per_request_mb": per_request,
        "documented": {
            "idle_mb": _up(idle),
            "per_handler_mb": _up(worst),
            "per_queued_mb": _up(per_queued, step=10),
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--scratch", type=Path, default=Path("benchmarks/.cache/memory"))
    ap.add_argument("--rule-from", type=Path, default=None,
                    help="only recompute the rule from the runs of an earlier JSON")  # fmt: skip
    args = ap.parse_args(argv)
    if args.rule_from:
        earlier = json.loads(args.rule_from.read_text())
        earlier["rule"] = rule_of(earlier["runs"], earlier["queued"])
        (args.json or args.rule_from).write_text(json.dumps(earlier, indent=1) + "\n")
        return 0
    args.scratch.mkdir(parents=True, exist_ok=True)
    requests = worst_requests(args.data, args.scratch)
    warm = requests.pop("warm")
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, request in requests.items():
        runs[name] = []
        for handlers in (1, 2):
            r = measure(request, handlers, 0, args.scratch, warm)
            r["body_mb"] = round(request.size / MiB, 2)
            runs[name].append(r)
            print(name, r, flush=True)
    # The queue: the largest body, waiting 4 × HANDLERS deep while HANDLERS compute.
    largest_name = max(requests, key=lambda name: requests[name].size)
    largest = requests[largest_name]
    queued = [
        {"endpoint": largest_name, **measure(largest, h, 4 * h, args.scratch, warm)} for h in (1, 2)
    ]
    for q in queued:
        print("queued", q, flush=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "runs": runs,
        "queued": queued,
        "largest_body_mb": round(largest.size / MiB, 2),
    }
    result["rule"] = rule_of(runs, queued)
    print(json.dumps(result["rule"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
