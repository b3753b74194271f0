"""The job runner: plan the videos, render, encode and check each one, write the manifest."""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tools import synth
from tools.provenance import data_digest, git_commit, platform_info
from tools.synth.basics import HARD_SHARE, U8, Face
from tools.synth.camera import Camera, encode, middle_frame, random_encoder
from tools.synth.data import CLIP_FOLDERS, Data, FaceFinder, SkipSourceError, Source
from tools.synth.prints import build_print
from tools.synth.replays import build_replay
from tools.synth.scene import Scene

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / os.environ.get("FACEGATE_TEST_DATA", "../shared/data")
DEFAULT_OUT = ROOT / "benchmarks" / ".cache" / "synth"
KINDS = ("print", "replay")


@dataclass(frozen=True)
class Job:
    kind: str
    index: int
    seed: int
    hard: bool
    seconds: float
    out: str
    sources: tuple[Source, ...]  # first choice, then fall-backs

    @property
    def name(self) -> str:
        return f"{self.kind[0]}{self.index:03d}"


def job_rng(job: Job, attempt: int) -> np.random.Generator:
    """Every draw of one attempt at a video comes from this generator: a seed gives the same
    videos whatever the order or the process they are made in."""
    return np.random.default_rng([job.seed, KINDS.index(job.kind), job.index, attempt])


def render_frames(scene: Scene, cam: Camera, n: int) -> Iterator[U8]:
    tau = cam.exposure / cam.fps
    for i in range(n):
        t = i / cam.fps
        disp = float(
            np.linalg.norm(scene.probe(t + tau / 2) - scene.probe(t - tau / 2), axis=1).max()
        )
        lin = scene.render(t, t, tau if disp > 1.5 else 0.0)
        yield cam.develop(lin, t)


def attack_face(
    finder: FaceFinder, img: U8, centre: tuple[float, float], width: float
) -> Face | None:
    """The detection that is the attack's face (not a bystander printed or filmed with it)."""
    best = None
    for face in finder.faces(img):
        x, y, w, h, _ = face
        dist = math.hypot(x + w / 2 - centre[0], y + h / 2 - centre[1])
        near = dist < 0.9 * max(w, width) and 0.33 < w / max(width, 1.0) < 3.0
        if near and (best is None or face[4] > best[4]):
            best = face
    return best


_FINDER: FaceFinder | None = None
_DATA: Data | None = None


def _init_worker(data_root: str) -> None:
    global _FINDER, _DATA
    cv2.setNumThreads(1)
    _FINDER = FaceFinder()
    _DATA = Data.scan(Path(data_root))


def run_job(job: Job) -> dict[str, Any]:
    """``make_video`` in a worker process (see ``_init_worker``)."""
    assert _FINDER is not None
    assert _DATA is not None
    return make_video(job, _DATA, _FINDER)


def make_video(job: Job, data: Data, finder: FaceFinder) -> dict[str, Any]:
    """Make one video; returns its manifest entry (or None), log lines and check counts."""
    t0 = time.perf_counter()
    out_dir = Path(job.out) / job.kind
    final = out_dir / f"{job.name}.mp4"
    tmp = out_dir / f".{job.name}.tmp.mp4"
    log: list[str] = []
    checked = ok = 0
    attempt = 0
    build = build_print if job.kind == "print" else build_replay
    for src in job.sources:
        for _ in range(2):
            if attempt >= 4:
                break
            rng = job_rng(job, attempt)
            attempt += 1
            try:
                scene, cam, n, params = build(rng, data, finder, src, job.hard, job.seconds)
            except SkipSourceError as e:
                log.append(f"{job.name}: skipped source {e}")
                break
            enc = random_encoder(rng, cam.fps)
            n = encode(tmp, render_frames(scene, cam, n), cam.fps, (cam.W, cam.H), enc)
            mid = middle_frame(tmp, n)
            expected = (scene.face_image((n // 2) / cam.fps), float(params["face_frac"]) * cam.W)
            face = attack_face(finder, mid, *expected) if mid is not None else None
            checked += 1
            if face is None:
                log.append(
                    f"{job.name}: no face in the middle frame of attempt {attempt} "
                    f"({src.path}); redone"
                )
                if os.environ.get("SYNTH_DEBUG") and mid is not None:
                    found = [tuple(round(float(v)) for v in f[:4]) for f in finder.faces(mid)]
                    log.append(f"   expected centre/width {expected}, found {found}")
                if os.environ.get("SYNTH_KEEP_FAILED"):
                    tmp.replace(out_dir / f".{job.name}.fail{attempt}.mp4")
                tmp.unlink(missing_ok=True)
                continue
            ok += 1
            tmp.replace(final)
            clip = params.pop("clip", None)  # the part of a clip shown: an entry of its own
            params.update(
                {
                    "frames": n,
                    "encoder": enc,
                    "attempt": attempt,
                    "mid_frame_face": {
                        "score": round(face[4], 3),
                        "width_frac": round(face[2] / cam.W, 3),
                    },
                }
            )
            entry = {
                "file": f"{job.kind}/{final.name}",
                "kind": job.kind,
                "source": src.path,
                "group": src.group,
                "clip": clip,
                "hard": job.hard,
                "params": params,
            }
            return {
                "entry": entry,
                "kind": job.kind,
                "log": log,
                "checked": checked,
                "ok": ok,
                "seconds": time.perf_counter() - t0,
            }
    log.append(
        f"{job.name}: dropped (no usable source or no detectable face after {attempt} attempts)"
    )
    return {
        "entry": None,
        "kind": job.kind,
        "log": log,
        "checked": checked,
        "ok": ok,
        "seconds": time.perf_counter() - t0,
    }


def plan(data: Data, seed: int, per_kind: int, seconds: float, out: Path) -> list[Job]:
    rng = np.random.default_rng([seed, 7919])
    jobs: list[Job] = []
    n_hard = max(1, round(HARD_SHARE * per_kind)) if per_kind >= 4 else 0

    def hard_set() -> set[int]:
        return {int(i) for i in rng.permutation(per_kind)[:n_hard]}

    # ---- print: NUAA, MSU, LFW photos and frames grabbed from the live clips (both folders)
    by_group: dict[str, dict[str, list[Source]]] = {"nuaa": {}, "msu": {}, "clip": {}}
    for dataset, files in (("nuaa", data.nuaa), ("msu", data.msu)):
        for rel in files:
            src = Source.photo(dataset, rel)
            by_group[dataset].setdefault(src.group, []).append(src)
    for rel in data.clips:
        src = Source.clip(rel)
        by_group["clip"].setdefault(src.group, []).append(src)
    share = {"nuaa": 0.25, "msu": 0.15, "lfw": 0.25, "clip": 0.35}
    avail = {k: v for k, v in share.items() if (by_group[k] if k != "lfw" else data.lfw_people)}
    total = sum(avail.values())
    counts = {k: int(per_kind * v / total) for k, v in avail.items()}
    for k in sorted(avail, key=lambda k: -avail[k]):
        if sum(counts.values()) >= per_kind:
            break
        counts[k] += 1
    kinds_seq = [k for k, c in counts.items() for _ in range(c)]
    kinds_seq = [kinds_seq[i] for i in rng.permutation(len(kinds_seq))]
    cursors: dict[str, list[str]] = {}
    for k in avail:
        groups = sorted(by_group[k]) if k != "lfw" else list(data.lfw_people)
        cursors[k] = [groups[i] for i in rng.permutation(len(groups))]
    used: dict[str, int] = dict.fromkeys(avail, 0)

    def sources_for(k: str) -> tuple[Source, ...]:
        out_: list[Source] = []
        groups = cursors[k]
        for j in range(4):
            g = groups[(used[k] + (j if j >= 2 else 0)) % len(groups)]
            if k == "lfw":
                options = [Source.photo("lfw", rel) for rel in data.lfw_images(g)]
            else:
                options = by_group[k][g]
            if options:
                out_.append(options[int(rng.integers(len(options)))])
        used[k] += 1
        return tuple(out_)

    hard_p = hard_set()
    for i, k in enumerate(kinds_seq):
        jobs.append(Job("print", i, seed, i in hard_p, seconds, str(out), sources_for(k)))

    # ---- replay: every live clip (both folders), each several times at other offsets
    clips = [data.clips[i] for i in rng.permutation(len(data.clips))]
    hard_r = hard_set()
    for i in range(per_kind if clips else 0):
        first = Source.clip(clips[i % len(clips)])
        alt = Source.clip(clips[(i + 1) % len(clips)])
        jobs.append(Job("replay", i, seed, i in hard_r, seconds, str(out), (first, first, alt)))
    return jobs


def _json_default(o: object) -> Any:
    if isinstance(o, np.floating):
        return round(float(o), 6)
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.synth",
        description=synth.__doc__.split("\n\n")[0] if synth.__doc__ else None,
    )
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="data folder (default: %(default)s)"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-kind", type=int, default=100, help="videos per attack kind")
    ap.add_argument("--seconds", type=float, default=4.0, help="video length")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated subset of print,replay"
    )
    args = ap.parse_args(argv)
    data_root = args.data.resolve()
    if not any((data_root / d).is_dir() for d in (*CLIP_FOLDERS, "nuaa", "msu", "lfw")):
        print(f"no data at {data_root} (see its README.md)", file=sys.stderr)
        return 2
    data = Data.scan(data_root)
    out: Path = args.out.resolve()
    kinds = [k for k in args.kinds.split(",") if k]
    jobs = [j for j in plan(data, args.seed, args.per_kind, args.seconds, out) if j.kind in kinds]
    for kind in KINDS:
        (out / kind).mkdir(parents=True, exist_ok=True)
        if kind in kinds:
            for old in (out / kind).glob("*.mp4"):
                old.unlink()
            for old in (out / kind).glob(".*.tmp.mp4"):
                old.unlink()
    # replays are slower: start them first, interleaved, for a balanced pool
    jobs.sort(key=lambda j: (j.index, j.kind != "replay"))
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.jobs <= 1:
        _init_worker(str(data_root))
        for job in jobs:
            results.append(run_job(job))
            for line in results[-1]["log"]:
                print(line, flush=True)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(str(data_root),)) as pool:
            for res in pool.imap_unordered(run_job, jobs):
                results.append(res)
                for line in res["log"]:
                    print(line, flush=True)
                done = len(results)
                if done % 10 == 0 or done == len(jobs):
                    print(
                        f"{done}/{len(jobs)} videos, {time.perf_counter() - t0:.0f} s", flush=True
                    )
    elapsed = time.perf_counter() - t0
    entries = sorted(
        (r["entry"] for r in results if r["entry"] is not None), key=lambda e: e["file"]
    )
    files = data.files()
    provenance: dict[str, Any] = {
        "tool": "tools.synth",
        "commit": git_commit(ROOT),
        "seed": args.seed,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "platform": platform_info(),
        "data": {
            "root": str(args.data),
            "files": len(files),
            "digest": data_digest(data_root, files),
        },
    }
    manifest = out / "manifest.json"
    if set(kinds) != set(KINDS) and manifest.exists():
        # keep the other kind's videos, and say which run made them
        earlier = json.loads(manifest.read_text())
        videos = earlier["videos"] if isinstance(earlier, dict) else earlier
        kept = [e for e in videos if e["kind"] not in kinds]
        if kept:
            provenance["kept"] = {
                "kinds": sorted({e["kind"] for e in kept}),
                "provenance": earlier.get("provenance") if isinstance(earlier, dict) else None,
            }
        entries = sorted(kept + entries, key=lambda e: e["file"])
    doc = {"provenance": provenance, "videos": entries}
    manifest.write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")
    checked = sum(r["checked"] for r in results)
    ok = sum(r["ok"] for r in results)
    print(f"generated in {elapsed:.0f} s with {args.jobs} workers → {out}")
    for kind in kinds:
        mine = [e for e in entries if e["kind"] == kind]
        secs = [r["seconds"] for r in results if r["kind"] == kind]
        wild = sum(e["source"].startswith("wild/") for e in mine)
        print(
            f"  {kind}: {len(mine)} videos ({sum(e['hard'] for e in mine)} hard, "
            f"{sum(bool(e['params'].get('close_up')) for e in mine)} close-ups, "
            f"{sum(bool(e['params'].get('showing')) for e in mine)} shown with large turns, "
            f"{sum(bool(e['params'].get('bend')) for e in mine)} bent, {wild} from wild clips), "
            f"{len({e['group'] for e in mine})} groups, "
            f"{np.mean(secs) if secs else 0:.1f} s of one worker per video"
        )
    print(
        f"  face in the middle frame: {ok}/{checked} encoded videos "
        f"({ok / max(checked, 1):.1%}); failed ones were made again"
    )
    print(f"  dropped: {sum(r['entry'] is None for r in results)}")
    return 0
