"""Measure silent liveness on any folder shaped like ``../shared/data``.

    python -m benchmarks.liveness --data ../shared/data --json benchmarks/results/liveness.json \\
        [--synth DIR] [--pack DIR] [--doc docs/liveness.md]

For each install (default; with the MiniFASNet pack when it is installed):

* **prediction**: the nested leave-one-source-out figures of the fitting procedure
  (``tools.fit_liveness``) recomputed on this folder's live windows and synthetic attacks:
  BPCER overall and per source (a person, a clip collection), APCER per synthetic attack type.
  This is the figure for people and cameras the fit never saw; ISO/IEC 30107-3 terms.
* **shipped**: the shipped fusion at its threshold on every real upload of ``video/live``,
  ``wild/live`` and ``video/replay`` through the server's path (decode the first seconds,
  track, cues, fusion, the ``short_time`` rule), whole and cut to its first 3 s re-encoded at
  640×480; and on the live windows and synthetic attacks (in-sample when the folder is the one
  the fusion was fitted on).
* **trade-off**: BPCER against APCER per attack type over thresholds, each sample scored by
  the shipped fusion's model fitted without the sample's source (leave-one-source-out), for the
  docs' figure; the shipped threshold is marked on it.
* **timing**: decode + liveness as the worker runs it (no HTTP) of 3 s 640×480 H.264 clips made
  from the live clips; p50/p99 over clips and repeats, after a warm-up.

Then the time of a phone-sized upload through the API in-process (a live clip upscaled to
1080×1920, 8 s, just under 16 MB). ``--doc`` rewrites the liveness table of a page (between
its ``liveness-table`` markers) from the JSON; a test checks that the two agree.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import cv2
import numpy as np

from benchmarks.docblocks import write_block
from facegate.compose import build_liveness
from facegate.core.errors import FacegateError
from facegate.core.video import decode_video
from facegate.settings import Settings
from facegate.vision.liveness.analyzer import LivenessAnalyzer
from facegate.vision.packs import installed_packs, packs_root
from tools import fit_liveness as fit
from tools import liveness_data as data

DOC_BLOCK = "liveness-table"


def real_uploads(
    analyzer: LivenessAnalyzer, samples: list[data.Sample], limits: Any
) -> list[dict[str, Any]]:
    """Each upload (whole or cut) through decode → analyse, as the worker runs it."""
    out = []
    for s in samples:
        blob = s.path.read_bytes() if s.origin == "real" else data.cut_clip(s.path)
        try:
            r = analyzer.analyze(decode_video(blob, limits))
            row = {"score": round(r.score, 4), "status": r.status, "refused_by": r.refused_by}
        except FacegateError as exc:  # no face, undecodable: not accepted
            row = {"score": None, "status": f"error {int(exc.code)}", "refused_by": ""}
        out.append({"clip": s.id, "kind": s.kind, "source": s.source, **row})
    return out


def upload_rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def refused(kind: str, origin: str) -> list[bool]:
        return [
            r["status"] != "ok" for r in rows if r["kind"] == kind and r["clip"].startswith(origin)
        ]

    out: dict[str, Any] = {}
    for origin in ("real", "cut"):
        live, replay = refused("live", origin), refused("replay", origin)
        out[origin] = {
            "live_passed": live.count(False),
            "n_live": len(live),
            "replays_refused": replay.count(True),
            "n_replay": len(replay),
        }
    return out


def timing_clips(folder: Path, limit: int = 20, seconds: float = 3.0) -> list[bytes]:
    """3 s 640×480 H.264 clips (in memory) from the start of the live clips; exactly 640×480,
    as the acceptance figure is stated (portrait clips are stretched)."""
    return [
        data.cut_clip(p, seconds, stretch=True)
        for p in data.clips(folder, data.LIVE_FOLDERS)[:limit]
    ]


def time_clips(analyzer: LivenessAnalyzer, clips: list[bytes], repeats: int) -> dict[str, float]:
    # As the worker runs it (LocalEngine): parallelism from the analyser's own threads only.
    cv2.setNumThreads(1)
    limits = Settings().video_limits
    for clip in clips[:2]:  # warm-up
        analyzer.analyze(decode_video(clip, limits))
    times = []
    for _ in range(repeats):
        for clip in clips:
            t0 = time.perf_counter()
            analyzer.analyze(decode_video(clip, limits))
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "n": len(times),
    }


def big_video(source: Path, target_bytes: int = 16_000_000) -> bytes:
    """A phone-like 1080×1920 H.264 upload just under 16 MB: ``source`` upscaled and encoded at
    the bitrate that fills 16 MB in 8 s (sensor noise added so the encoder spends it)."""
    rng = np.random.default_rng(0)
    for bitrate in (15_000_000, 14_000_000, 12_000_000, 10_000_000):
        buf = io.BytesIO()
        with av.open(str(source)) as src, av.open(buf, mode="w", format="mp4") as dst:
            stream = dst.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 1080, 1920, "yuv420p"
            stream.bit_rate = bitrate
            stream.options = {"preset": "ultrafast"}
            n = 0
            while n < 240:  # 8 s at 30 fps, looping a shorter clip
                src.seek(0)
                for frame in src.decode(video=0):
                    if n >= 240:
                        break
                    img = frame.to_ndarray(format="bgr24", width=1080, height=1920)
                    noisy = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(noisy, format="bgr24")):
                        dst.mux(packet)
                    n += 1
            for packet in stream.encode():
                dst.mux(packet)
        if len(buf.getvalue()) <= target_bytes:
            return buf.getvalue()
    raise RuntimeError("could not make a video under 16 MB")


def time_big_upload(source: Path, repeats: int = 3) -> dict[str, Any]:
    """End to end through the API in-process: form parsing, decryption, decoding, liveness."""
    from fastapi.testclient import TestClient

    from facegate.api.app import create_app
    from facegate.core.crypto import Cipher

    settings = Settings(liveness_use_pack=False)
    video = big_video(source)
    # Encoded once, outside the timing: urlencoding 21 MB is the client's cost.
    body = urlencode(
        {"encrypted_video": Cipher(settings.decrypt_key, settings.decrypt_iv).encrypt(video)}
    ).encode()
    form = {"content-type": "application/x-www-form-urlencoded"}
    times, codes = [], []
    with TestClient(create_app(settings)) as client:
        t0 = time.perf_counter()
        while client.get("/readyz").status_code != 200:  # as a load balancer would
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("the app did not become ready in 120 s")
            time.sleep(0.1)
        ready_s = time.perf_counter() - t0
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = client.post("/liveness/silent_detection/stateless", content=body, headers=form)
            times.append(time.perf_counter() - t0)
            codes.append(r.json()["code"])
    return {
        "bytes": len(video),
        "seconds": times,
        "codes": codes,
        "size": "1080x1920, 8 s",
        "source": source.name,
        "ready_after_s": ready_s,
    }


def tradeoff(t: fit.Table, name: str, with_pack: bool) -> dict[str, Any]:
    """BPCER and APCER per attack type at thresholds through the LOSO scores of the candidate
    called ``name`` (the shipped fusion's candidate): out of sample, the threshold swept."""
    (cand,) = [c for c in fit.candidates(with_pack) if c.name == name]
    rows = np.arange(len(t.samples))
    scores, _ = fit.loso_scores(t, rows, cand)
    live = t.live[rows]
    kinds = t.kinds[rows]
    thresholds = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, 201)))
    return {
        "threshold": thresholds.round(6).tolist(),
        "bpcer": [float(np.mean(scores[live] < x)) for x in thresholds],
        "apcer": {
            k: [float(np.mean(scores[kinds == k] >= x)) for x in thresholds]
            for k in sorted(set(kinds[~live].tolist()))
        },
    }


def measure(
    args: argparse.Namespace, pack_root: Path | None, label: str, clips: list[bytes]
) -> dict[str, Any]:
    settings = Settings()
    with_pack = pack_root is not None
    fit_samples = data.live_windows(args.data, settings.video_limits) + data.synthetic_attacks(
        args.synth
    )
    reals = data.real_clips(args.data)
    name = "pack" if with_pack else "default"
    table = data.feature_table(fit_samples + reals, settings, pack_root, name=name)
    t = fit.Table.of(fit_samples, table)
    live_uploads = fit.Table.of([s for s in reals if s.kind == "live"], table)
    uploads = fit.Uploads(live_uploads, np.arange(len(live_uploads.samples)))
    tg = fit.TARGETS[with_pack]
    predicted, _ = fit.nested(t, fit.candidates(with_pack), tg, uploads, lambda line: None)
    analyzer = build_liveness(settings, pack_root=pack_root)
    fusion = analyzer.video_fusion
    rows = np.arange(len(t.samples))
    in_sample = fit.rates(t, rows, fit.score(t, rows, fusion.experts) >= fusion.threshold)
    shipped = real_uploads(analyzer, reals, settings.video_limits)
    section = {
        "fusion": fusion.name,
        "threshold": fusion.threshold,
        "targets": {"bpcer": tg.bpcer, "source_bpcer": tg.source_bpcer, "apcer": tg.apcer},
        "prediction_nested_loso": predicted,
        "shipped_on_windows_and_synthetic": in_sample,
        "tradeoff_loso": tradeoff(t, str(fusion.info["candidate"]), with_pack),
        "uploads": upload_rates(shipped),
        "upload_detail": shipped,
        "timing_3s_640x480": time_clips(analyzer, clips, args.repeats),
    }
    analyzer.close()
    return section


def render_table(result: dict[str, Any]) -> str:
    """The liveness table of the docs, from the benchmark's JSON."""
    lines = [
        "| install | BPCER (worst source) | APCER print | APCER replay | live uploads passed "
        "(whole / first 3 s) | replays refused | p50 / p99, 3 s 640×480 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in ("default", "with_pack"):
        s = result.get(label)
        if not s or "skipped" in s:
            continue
        p = s["prediction_nested_loso"]
        u, tm = s["uploads"], s["timing_3s_640x480"]
        ap = p["apcer_by_type"]
        lines.append(
            f"| {label.replace('_', ' ')} | {p['bpcer']:.1%} of {p['n_live']} "
            f"({p['worst_source_bpcer']:.0%}) | {ap.get('print', 0):.1%} | "
            f"{ap.get('replay', 0):.1%} | {u['real']['live_passed']}/{u['real']['n_live']} / "
            f"{u['cut']['live_passed']}/{u['cut']['n_live']} | "
            f"{u['real']['replays_refused']}/{u['real']['n_replay']} | "
            f"{tm['p50_ms']:.0f} / {tm['p99_ms']:.0f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--synth", type=Path, default=data.SYNTH_DIR)
    ap.add_argument("--pack", type=Path, default=None, help="pack root holding minifasnet/")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--doc", type=Path, default=None, help="rewrite the table in this page")
    args = ap.parse_args(argv)
    settings = Settings()
    if not (args.synth / "manifest.json").is_file():
        raise SystemExit(f"no synthetic attacks at {args.synth}: run `make synth-attacks` first")
    pack_root = args.pack or packs_root(settings.model_dir)
    has_pack = "minifasnet" in installed_packs(pack_root)
    clips = timing_clips(args.data)
    result: dict[str, Any] = {"data": str(args.data)}
    for label, root in (("default", None), ("with_pack", pack_root if has_pack else None)):
        if label == "with_pack" and root is None:
            result[label] = {"skipped": f"no minifasnet pack under {pack_root}"}
            continue
        section = measure(args, root, label, clips)
        result[label] = section
        p = section["prediction_nested_loso"]
        print(f"\n== {label} ({section['fusion']}, threshold {section['threshold']})")
        print(
            f"  nested LOSO: BPCER {p['bpcer']:.1%} of {p['n_live']} (worst source "
            f"{p['worst_source_bpcer']:.0%}); APCER "
            + ", ".join(f"{k} {v:.1%}" for k, v in p["apcer_by_type"].items())
        )
        for origin, u in section["uploads"].items():
            print(
                f"  uploads ({origin}): live passed {u['live_passed']}/{u['n_live']}, "
                f"replays refused {u['replays_refused']}/{u['n_replay']}"
            )
        for row in section["upload_detail"]:
            if (row["status"] == "ok") != (row["kind"] == "live"):
                print(f"    wrong: {row}")
        tm = section["timing_3s_640x480"]
        print(f"  3 s 640×480 clip: p50 {tm['p50_ms']:.0f} ms, p99 {tm['p99_ms']:.0f} ms")
    live = data.clips(args.data, data.LIVE_FOLDERS)
    big = time_big_upload(live[0])
    result["big_upload"] = big
    print(
        f"  {big['bytes'] / 1e6:.1f} MB upload ({big['size']}), ready after "
        f"{big['ready_after_s']:.1f} s: " + ", ".join(f"{t:.2f} s" for t in big["seconds"])
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.doc:
        write_block(args.doc, DOC_BLOCK, render_table(result))
        print(f"rewrote the liveness table of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
