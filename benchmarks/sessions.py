"""How often a recording passes an interactive capture session by chance (issue 16, point 5).

    python -m benchmarks.sessions --data ../shared/data --sessions 20 \\
        --json benchmarks/results/sessions.json

Each live clip of ``video/live`` is played as the camera would play it (10 frames/s, looped
when shorter than the session, as Chromium loops a camera file) into sessions whose prompts are
drawn at random exactly as the server draws them (no action twice in a row), with the server's
schedule (``cloud.sessions.prompt_due``) and windows (``challenge_windows``); each session's
package is decided by the server's package check. A recording cannot follow prompts, so every
pass is a pass by chance: the rate per number of actions is the figure to drive down.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.cloud.sessions import challenge_windows, prompt_due
from facegate.compose import build_liveness, build_pipeline
from facegate.core.errors import FacegateError
from facegate.core.package import ActionKind, LivenessPackage, Mode, PackageFrame
from facegate.sdk.capture import video_frames
from facegate.settings import Settings
from facegate.vision.liveness.package_check import PackageChecker


def camera(path: Path, seconds: float, fps: float = 10.0, width: int = 480) -> list[bytes]:
    """``seconds`` of the clip at ``fps`` as JPEGs, the clip looped when it is shorter."""
    frames: list[bytes] = []
    last = -1.0
    for t, frame in video_frames(path):
        if last >= 0 and t < last + 1 / fps:
            continue
        last = t
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (min(width, w), round(h * min(width, w) / w)))
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            frames.append(bytes(np.asarray(buf).tobytes()))
    needed = int(seconds * fps) + 1
    return [frames[i % len(frames)] for i in range(needed)]


def draw(rng: random.Random, n: int) -> list[str]:
    kinds = [k.value for k in ActionKind]
    out: list[str] = []
    while len(out) < n:
        kind = rng.choice(kinds)
        if not out or out[-1] != kind:
            out.append(kind)
    return out


def session(
    frames: list[bytes], actions: list[str], prompt_seconds: float, fps: float = 10.0
) -> LivenessPackage:
    stamps = [round(i * 1000 / fps) for i in range(len(frames))]
    prompts = []
    for k, kind in enumerate(actions):
        due = prompt_due(k, prompt_seconds)
        at = next(t for t in stamps if t >= due)  # sent with the first frame past its time
        prompts.append((kind, at))
    end = prompt_due(len(actions), prompt_seconds)
    kept = [i for i, t in enumerate(stamps) if t <= end]
    challenge = challenge_windows([stamps[i] for i in kept], prompts, prompt_seconds)
    return LivenessPackage(
        "benchmark",
        "1",
        "recording",
        datetime.now(UTC),
        Mode.INTERACTIVE,
        tuple(PackageFrame(frames[i], stamps[i]) for i in kept),
        challenge,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sessions", type=int, default=20, help="per clip and number of actions")
    ap.add_argument("--actions", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    settings = Settings(liveness_use_pack=False)
    pipeline = build_pipeline(settings)
    analyzer = build_liveness(settings, pipeline)
    checker = PackageChecker(analyzer, pipeline)
    rng = random.Random(args.seed)
    clips = sorted((args.data / "video" / "live").glob("*.*"))
    longest = prompt_due(max(args.actions), settings.session_prompt_seconds) / 1000 + 0.5
    by_actions: dict[int, dict[str, Any]] = {}
    by_kind: dict[str, list[int]] = {k.value: [0, 0] for k in ActionKind}
    for n in args.actions:
        passed = total = 0
        per_clip: dict[str, int] = {}
        for clip in clips:
            frames = camera(clip, longest)
            wins = 0
            for _ in range(args.sessions):
                actions = draw(rng, n)
                try:
                    result = checker.check(
                        session(frames, actions, settings.session_prompt_seconds)
                    )
                    ok = not result.attack
                except FacegateError:
                    ok = False
                wins += ok
                if n == 1:
                    by_kind[actions[0]][0] += ok
                    by_kind[actions[0]][1] += 1
            per_clip[clip.name] = wins
            passed += wins
            total += args.sessions
        by_actions[n] = {"passed": passed, "sessions": total, "rate": passed / total,
                         "by_clip": per_clip}  # fmt: skip
        print(f"{n} action(s): a recording passed {passed} of {total} sessions "
              f"({100 * passed / total:.1f} %)", flush=True)  # fmt: skip
    analyzer.close()
    result = {
        "data": str(args.data),
        "clips": [c.name for c in clips],
        "prompt_seconds": settings.session_prompt_seconds,
        "seed": args.seed,
        "by_actions": by_actions,
        "one_action_by_kind": {k: {"passed": p, "sessions": s} for k, (p, s) in by_kind.items()},
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
