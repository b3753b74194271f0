"""Latency and throughput of /identity/image_verification/stateless over real HTTP, with the
``face_recognition`` package (dlib HOG + ResNet) on the same photo pairs as the peer; and of
/identity/liveness_image_verification/stateless (1.3) with 10-frame liveness packages.

    python -m benchmarks.latency [--data ../shared/data] [--requests 120] [--json OUT.json]
    python -m benchmarks.latency --only package      # the 1.3 part alone

1.3: the SDK captures a 10-frame package (4 frames/s, 2.25 s) from each live clip in
``video/live``; the photo is a frame from later in the same clip. A package verifies once, so
every request sends a freshly sealed copy (new nonce). Clips whose package the server refuses
(its liveness score below the threshold) are left out and listed, so that every timed request
runs the whole check and the comparison.

The server is started as `facegate serve` on loopback, exactly as `make serve` runs it. Photos
are real 640×480 webcam JPEGs (NUAA live frames); each request compares two of them, pairs of
the same and of different subjects. Request bodies are encrypted beforehand, so the client
spends its time in HTTP only; it shares the machine's cores with the server, as a co-located
client would. The peer runs in-process (no HTTP, no encryption): that favours the peer.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from benchmarks import docblocks
from benchmarks.cli import parser
from benchmarks.docblocks import write_block
from benchmarks.imagesets import webcam_set
from facegate.core.crypto import Cipher
from facegate.core.stages import parse_server_timing
from facegate.settings import Settings

URL = "/identity/image_verification/stateless"


def photo_pairs(data: Path, n: int, seed: int = 0) -> list[tuple[Path, Path]]:
    return [(a.path, b.path) for a, b in webcam_set(data, n, seed).pairs]


def start_server(
    port: int, profile: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facegate",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "FACEGATE_PROFILE": profile, **(env or {})},
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("facegate serve did not start")


def summarise(latencies: list[float], wall: float, failures: int) -> dict[str, Any]:
    a = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "failures": failures,
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p90_ms": round(float(np.percentile(a, 90)), 1),
        "p99_ms": round(float(np.percentile(a, 99)), 1),
        "throughput_rps": round(len(latencies) / wall, 2),
    }


def drive(fn: Any, jobs: list[Any], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0

    def timed(job: Any) -> tuple[float, bool]:
        t0 = time.perf_counter()
        ok = fn(job)
        return time.perf_counter() - t0, ok

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for dt, ok in pool.map(timed, jobs):
            latencies.append(dt)
            failures += not ok
    return summarise(latencies, time.perf_counter() - start, failures)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


PACKAGE_URL = "/identity/liveness_image_verification/stateless"


def bench_package(data: Path, requests: int, warmup: int) -> dict[str, Any]:
    from facegate.compose import build_liveness
    from facegate.proto.codec import package_key, seal
    from facegate.sdk.capture import CaptureOptions, Capturer, still_from_video, video_frames

    settings = Settings(liveness_use_pack=False)
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    key = package_key(settings.decrypt_key)
    analyzer = build_liveness(settings)
    capturer = Capturer(analyzer)
    options = CaptureOptions(fps=4.0, seconds=2.25, min_seconds=2.25)
    clips = []
    for video in sorted((data / "video" / "live").iterdir()):
        package = capturer.capture(video_frames(video), options)
        assert len(package.frames) == 10, (video.name, len(package.frames))
        clips.append((video.name, package, cipher.encrypt(still_from_video(video, 60.0))))
    analyzer.close()
    port = free_port()
    proc = start_server(port, "default", {"FACEGATE_LIVENESS_USE_PACK": "false"})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

            def one(job: tuple[Any, str]) -> bool:
                package, photo = job
                r = client.post(
                    PACKAGE_URL,
                    files={"liveness_file": ("s.fglv", seal(package, key))},
                    data={"encrypted_image": photo},
                )
                return r.status_code == 200

            kept = [(n, p, ph) for n, p, ph in clips if one((p, ph))]
            excluded = sorted({n for n, _, _ in clips} - {n for n, _, _ in kept})
            jobs = [(p, ph) for _, p, ph in kept]
            for job in jobs[:warmup]:
                one(job)
            timed = [jobs[i % len(jobs)] for i in range(requests)]
            result = drive(one, timed, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    mean_kb = np.mean([len(seal(p, key)) for _, p, _ in kept]) / 1024
    return {
        "frames_per_package": 10,
        "package_kib_mean": round(float(mean_kb), 1),
        "clips": [n for n, _, _ in kept],
        "excluded_refused": excluded,
        "concurrency_1": result,
    }


def bench_facegate(
    pairs: list[tuple[Path, Path]], concurrencies: list[int], warmup: int, profile: str
) -> dict[str, Any]:
    settings = Settings()
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    bodies = [
        form_body(
            {
                "first_encrypted_image": cipher.encrypt(a.read_bytes()),
                "second_encrypted_image": cipher.encrypt(b.read_bytes()),
            }
        )
        for a, b in pairs
    ]
    port = free_port()
    proc = start_server(port, profile)
    results: dict[str, Any] = {}
    stages: list[dict[str, float]] = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=httpx.Limits(max_connections=16)
        ) as client:

            def one(body: bytes) -> bool:
                r = client.post(URL, content=body, headers=FORM)
                per_stage: dict[str, float] = {}
                for name, seconds in parse_server_timing(r.headers.get("server-timing", "")):
                    per_stage[name] = per_stage.get(name, 0.0) + seconds * 1000
                stages.append(per_stage)
                return r.status_code == 200 or r.json().get("code") == 4000

            for body in bodies[:warmup]:
                one(body)
            for c in concurrencies:
                stages.clear()
                results[f"concurrency_{c}"] = drive(one, bodies, c)
                if c == 1:
                    results["stages_ms_at_1"] = stage_medians(stages)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


FORM = {"content-type": "application/x-www-form-urlencoded"}


def form_body(fields: dict[str, str]) -> bytes:
    """The urlencoded request body, made beforehand: Python's percent-encoding of a photo's
    base64 costs the client about 25 ms a photo, CPU the co-located client would otherwise take
    from the server being timed."""
    return urlencode(fields).encode()


def stage_medians(stages: list[dict[str, float]]) -> dict[str, float]:
    """Median milliseconds of each stage per request, both photos summed (they run at once,
    so the sum is compute, not wall time)."""
    names = sorted({k for s in stages for k in s})
    return {n: round(float(np.median([s.get(n, 0.0) for s in stages])), 1) for n in names}


def bench_bare(
    pairs: list[tuple[Path, Path]],
    concurrencies: list[int],
    warmup: int,
    detect_side: int,
    min_score: float,
) -> dict[str, Any]:
    """The floor under the service: the default profile's YuNet and SFace, on the runtime the
    service picks for them (``Settings.runtime``: the converted SFace on OpenVINO where it
    checks out), called directly in this process on the same photos — read, decode, detect
    once with the longer side at ``detect_side`` (the server's first, coarse look), align,
    embed both faces, compare. No HTTP, no encryption, no second look at small faces, one
    thread per model call as the server's handlers run them."""
    import threading

    import cv2

    from facegate.vision.convert import converted_net, on_openvino
    from facegate.vision.manifest import load_manifest

    manifest = load_manifest()
    profile = manifest.profile("default")
    detector_file = str(manifest.verified_path(profile.detector))
    embedder_file = str(manifest.verified_path(profile.embedders[0]))
    converted = manifest.converted_from(profile.embedders[0], "openvino")
    runner = (
        None
        if converted is None
        else on_openvino(
            Settings().runtime, "SFace", "OpenCV", lambda: converted_net(manifest, converted, None)
        )
    )
    local = threading.local()
    cv2.setNumThreads(1)

    def models() -> tuple[Any, Any]:
        if not hasattr(local, "detector"):
            local.detector = cv2.FaceDetectorYN.create(detector_file, "", (320, 320), min_score)
            local.embedder = cv2.FaceRecognizerSF.create(embedder_file, "")
        return local.detector, local.embedder

    def embed(path: Path) -> Any:
        detector, embedder = models()
        image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        h, w = image.shape[:2]
        scale = min(1.0, detect_side / max(h, w))
        small = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image
        detector.setInputSize((small.shape[1], small.shape[0]))
        _, faces = detector.detect(small)
        if faces is None:
            return None
        face = faces[0].copy()
        face[:14] /= scale
        crop = embedder.alignCrop(image, face)
        if runner is None:
            return embedder.feature(crop)
        return runner(cv2.dnn.blobFromImage(crop, 1.0, (112, 112), swapRB=True))

    def one(pair: tuple[Path, Path]) -> bool:
        first, second = embed(pair[0]), embed(pair[1])
        if first is None or second is None:
            return False
        a, b = np.ravel(first), np.ravel(second)
        float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        return True

    for p in pairs[:warmup]:
        one(p)
    result: dict[str, Any] = {f"concurrency_{c}": drive(one, pairs, c) for c in concurrencies}
    result["embedder_runtime"] = (
        "opencv" if runner is None or converted is None else f"openvino:{converted.id}"
    )
    return result


VIDEO_PATHS = {
    "3.1 silent_detection": "/liveness/silent_detection/stateless",
    "1.4 silent_image_verification": "/identity/silent_image_verification/stateless",
}


def bench_video(data: Path, clips: int, repeats: int, warmup: int) -> dict[str, Any]:
    """3 s 640×480 H.264 clips (the first 3 s of the live clips, as ``benchmarks/liveness.py``
    times them in-process) through 3.1 and 1.4 over HTTP, one at a time, without and with the
    MiniFASNet pack; 1.4 also sends a photo: a frame from later in the same clip."""
    from benchmarks.liveness import timing_clips
    from facegate.compose import served_pack_root
    from facegate.sdk.capture import still_from_video
    from tools.liveness_data import LIVE_FOLDERS
    from tools.liveness_data import clips as live_clips

    settings = Settings()
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    sources = live_clips(data, LIVE_FOLDERS)[:clips]
    videos = [cipher.encrypt(v) for v in timing_clips(data, limit=clips)]
    photos = [cipher.encrypt(still_from_video(p, 4.0)) for p in sources]
    out: dict[str, Any] = {"clips": [p.name for p in sources]}
    pack_installed = served_pack_root(Settings(liveness_use_pack=True)) is not None
    for pack in (False, True) if pack_installed else (False,):
        port = free_port()
        proc = start_server(port, "default", {"FACEGATE_LIVENESS_USE_PACK": str(pack).lower()})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                runs: dict[str, Any] = {}
                for name, url in VIDEO_PATHS.items():
                    passed: list[bool] = []

                    def one(
                        job: tuple[bytes, bytes], url: str = url, passed: list[bool] = passed
                    ) -> bool:
                        alone, with_photo = job
                        body = with_photo if "identity" in url else alone
                        r = client.post(url, content=body, headers=FORM)
                        passed.append(r.status_code == 200 and r.json().get("passed") is True)
                        return r.status_code == 200

                    jobs = [
                        (
                            form_body({"encrypted_video": v}),
                            form_body({"encrypted_video": v, "encrypted_image": p}),
                        )
                        for v, p in zip(videos, photos, strict=True)
                    ]
                    for job in jobs[:warmup]:
                        one(job)
                    passed.clear()
                    runs[name] = {
                        **drive(one, jobs * repeats, 1),
                        "passed": f"{sum(passed)}/{len(passed)}",
                    }
                out["with_pack" if pack else "without_pack"] = runs
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def bench_sets(
    data: Path, names: list[str], requests: int, concurrencies: list[int], warmup: int
) -> dict[str, Any]:
    """Each image set through the service and through the bare models, one after the other in
    one run, so that each figure sits beside its baseline."""
    import tempfile

    from benchmarks.imagesets import build_sets

    settings = Settings()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="facegate-sets-") as tmp:
        for image_set in build_sets(data, Path(tmp), requests, names=names):
            pairs = [(a.path, b.path) for a, b in image_set.pairs]
            out[image_set.name] = {
                "photos": image_set.description,
                "facegate": bench_facegate(pairs, concurrencies, warmup, "default"),
                "bare_models": bench_bare(
                    pairs,
                    concurrencies,
                    warmup,
                    settings.detect_coarse_side,
                    settings.detect_min_score,
                ),
            }
    return out


def _pkg_resources_for_the_peer() -> None:
    """``face_recognition_models`` finds its files with ``pkg_resources.resource_filename``,
    gone from setuptools 81 on; the same lookup through importlib.resources stands in for it."""
    import importlib.resources
    import importlib.util
    import types

    if importlib.util.find_spec("pkg_resources") is not None or "pkg_resources" in sys.modules:
        return
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, resource: str) -> str:
        return str(importlib.resources.files(package) / resource)

    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim


def bench_peer(
    pairs: list[tuple[Path, Path]], concurrencies: list[int], warmup: int
) -> dict[str, Any]:
    _pkg_resources_for_the_peer()
    try:
        import face_recognition
    except (ImportError, SystemExit) as exc:
        # face_recognition quits the interpreter when its models package does not import (it
        # needs setuptools' pkg_resources, which setuptools 81 dropped).
        return {"skipped": f"face_recognition does not import here ({exc!r})"}

    def one(pair: tuple[Path, Path]) -> bool:
        encs = []
        for p in pair:
            img = face_recognition.load_image_file(str(p))
            boxes = face_recognition.face_locations(img)
            if not boxes:
                return False
            encs.append(face_recognition.face_encodings(img, boxes[:1])[0])
        face_recognition.face_distance([encs[0]], encs[1])
        return True

    for p in pairs[:warmup]:
        one(p)
    return {f"concurrency_{c}": drive(one, pairs, c) for c in concurrencies}


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--requests", type=int, default=120)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--profile", default="default", help="the server's FACEGATE_PROFILE")
    ap.add_argument("--package-requests", type=int, default=60)
    ap.add_argument("--only", choices=["verification", "package", "ratio", "video"],
                    help="ratio: the service and the bare models alone, side by side, per "
                    "image set; video: 3 s clips through 3.1 and 1.4")  # fmt: skip
    ap.add_argument("--clips", type=int, default=10, help="with --only video")
    ap.add_argument("--repeats", type=int, default=3, help="with --only video")
    ap.add_argument("--sets", nargs="+", default=["webcam", "scene", "phone"],
                    help="with --only ratio: the image sets (benchmarks/imagesets.py)")  # fmt: skip
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--doc", type=Path, help="then rewrite the table in this page from latency-<profile>.json"
    )
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    if args.json and args.json.exists():
        result = {**json.loads(args.json.read_text()), **result}  # --only updates its part
    if args.only == "ratio":
        result = {
            "machine": {"cpus": os.cpu_count()},
            "detect_coarse_side": Settings().detect_coarse_side,
            "detect_max_side": Settings().detect_max_side,
            "sets": bench_sets(args.data, args.sets, args.requests, args.concurrency, args.warmup),
        }
    elif args.only == "video":
        result = {
            "machine": {"cpus": os.cpu_count()},
            "video": bench_video(args.data, args.clips, args.repeats, min(args.warmup, 3)),
        }
    elif args.only != "package":
        pairs = photo_pairs(args.data, args.requests)
        result["photos"] = "NUAA live webcam frames, 640×480 JPEG"
        result["profile"] = args.profile
        result["facegate"] = bench_facegate(pairs, args.concurrency, args.warmup, args.profile)
        if not args.no_peer:
            result["face_recognition_peer"] = bench_peer(pairs, args.concurrency, args.warmup)
    if args.only in (None, "package"):
        result["liveness_package"] = bench_package(args.data, args.package_requests, args.warmup)
    print(f"{'system':24} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'fail':>5}")
    sections = [("", result)] + [(f"{n}/", r) for n, r in result.get("sets", {}).items()]
    for prefix, section in sections:
        for system in (
            "facegate",
            "bare_models",
            "face_recognition_peer",
            "liveness_package",
            "video",
        ):
            for key, r in section.get(system, {}).items():
                if isinstance(r, dict) and "p50_ms" in r:
                    print(
                        f"{prefix + system:24} {key.split('_')[1]:>4} {r['p50_ms']:8.1f} "
                        f"{r['p99_ms']:8.1f} {r['throughput_rps']:7.2f} {r['failures']:5d}"
                    )
    for pack, runs in result.get("video", {}).items():
        for path, r in runs.items() if isinstance(runs, dict) else ():
            print(f"{pack:13} {path:32} p50 {r['p50_ms']:6.1f} ms, passed {r['passed']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.doc:
        write_block(args.doc, DOC_BLOCK, render_table(load_results()))
    return 0


PROFILES = ("default", "accurate")
DOC_BLOCK = "latency-table"
PEER = "`face_recognition` 1.3 (dlib HOG + ResNet), in-process"


def load_results() -> dict[str, dict[str, Any]]:
    return docblocks.load_results("latency", PROFILES)


def render_table(results: dict[str, dict[str, Any]]) -> str:
    """The speed table of the docs: each profile's service, then the peer, from the JSON."""
    lines = [
        "| system | concurrency | p50 ms | p99 ms | requests/s |",
        "|---|---|---|---|---|",
    ]
    rows = [(f"facegate `{p}`", r["facegate"]) for p, r in results.items()]
    rows += [
        (PEER, r["face_recognition_peer"]) for r in results.values() if "face_recognition_peer" in r
    ]
    for name, runs in rows:
        for key, m in runs.items():
            if not key.startswith("concurrency_"):
                continue
            lines.append(
                f"| {name} | {key.split('_')[1]} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
                f"{m['throughput_rps']:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
