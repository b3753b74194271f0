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

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks import docblocks
from benchmarks.docblocks import write_block
from facegate.core.crypto import Cipher
from facegate.settings import Settings

URL = "/identity/image_verification/stateless"


def photo_pairs(data: Path, n: int, seed: int = 0) -> list[tuple[Path, Path]]:
    files = sorted((data / "nuaa" / "live").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no NUAA live frames under {data}/nuaa/live")
    rng = random.Random(seed)
    return [(rng.choice(files), rng.choice(files)) for _ in range(n)]


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
        {
            "first_encrypted_image": cipher.encrypt(a.read_bytes()),
            "second_encrypted_image": cipher.encrypt(b.read_bytes()),
        }
        for a, b in pairs
    ]
    port = free_port()
    proc = start_server(port, profile)
    results: dict[str, Any] = {}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=httpx.Limits(max_connections=16)
        ) as client:

            def one(body: dict[str, str]) -> bool:
                r = client.post(URL, data=body)
                return r.status_code == 200 or r.json().get("code") == 4000

            for body in bodies[:warmup]:
                one(body)
            for c in concurrencies:
                results[f"concurrency_{c}"] = drive(one, bodies, c)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def bench_bare(
    pairs: list[tuple[Path, Path]],
    concurrencies: list[int],
    warmup: int,
    detect_side: int,
    min_score: float,
) -> dict[str, Any]:
    """The floor under the service: the default profile's YuNet and SFace, from the same files,
    called directly in this process on the same photos — read, decode, detect with the longer
    side at ``detect_side`` (the server's ``FACEGATE_DETECT_MAX_SIDE``), align, embed both
    faces, compare. No HTTP, no encryption, no quality or pose measures, one thread per model
    call as the server's handlers run them."""
    import threading

    import cv2

    from facegate.vision.manifest import load_manifest

    manifest = load_manifest()
    profile = manifest.profile("default")
    detector_file = str(manifest.verified_path(profile.detector))
    embedder_file = str(manifest.verified_path(profile.embedders[0]))
    local = threading.local()

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
        return embedder.feature(embedder.alignCrop(image, face))

    def one(pair: tuple[Path, Path]) -> bool:
        first, second = embed(pair[0]), embed(pair[1])
        if first is None or second is None:
            return False
        _, embedder = models()
        embedder.match(first, second, cv2.FaceRecognizerSF_FR_COSINE)
        return True

    for p in pairs[:warmup]:
        one(p)
    return {f"concurrency_{c}": drive(one, pairs, c) for c in concurrencies}


def bench_peer(
    pairs: list[tuple[Path, Path]], concurrencies: list[int], warmup: int
) -> dict[str, Any]:
    try:
        import face_recognition
    except ImportError:
        return {"skipped": "face_recognition is not installed (make bench-latency installs it)"}

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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACEGATE_TEST_DATA", "../shared/data"))
    )
    ap.add_argument("--requests", type=int, default=120)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--profile", default="default", help="the server's FACEGATE_PROFILE")
    ap.add_argument("--package-requests", type=int, default=60)
    ap.add_argument("--only", choices=["verification", "package", "ratio"],
                    help="ratio: the service and the bare models alone, side by side")  # fmt: skip
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--doc", type=Path, help="then rewrite the table in this page from latency-<profile>.json"
    )
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    if args.json and args.json.exists():
        result = {**json.loads(args.json.read_text()), **result}  # --only updates its part
    if args.only == "ratio":
        pairs = photo_pairs(args.data, args.requests)
        settings = Settings()
        side = settings.detect_max_side
        result = {
            "machine": {"cpus": os.cpu_count()},
            "photos": "NUAA live webcam frames, 640×480 JPEG",
            "detect_max_side": side,
            "facegate": bench_facegate(pairs, args.concurrency, args.warmup, "default"),
            "bare_models": bench_bare(
                pairs, args.concurrency, args.warmup, side, settings.detect_min_score
            ),
        }
    elif args.only != "package":
        pairs = photo_pairs(args.data, args.requests)
        result["photos"] = "NUAA live webcam frames, 640×480 JPEG"
        result["profile"] = args.profile
        result["facegate"] = bench_facegate(pairs, args.concurrency, args.warmup, args.profile)
        if not args.no_peer:
            result["face_recognition_peer"] = bench_peer(pairs, args.concurrency, args.warmup)
    if args.only not in ("verification", "ratio"):
        result["liveness_package"] = bench_package(args.data, args.package_requests, args.warmup)
    print(f"{'system':24} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'fail':>5}")
    for system in ("facegate", "bare_models", "face_recognition_peer", "liveness_package"):
        for key, r in result.get(system, {}).items():
            if isinstance(r, dict):
                print(
                    f"{system:24} {key.split('_')[1]:>4} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                    f"{r['throughput_rps']:7.2f} {r['failures']:5d}"
                )
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
            lines.append(
                f"| {name} | {key.split('_')[1]} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
                f"{m['throughput_rps']:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
