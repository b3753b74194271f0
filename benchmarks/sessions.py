"""How often a recording passes an interactive capture session by chance (issue 16, point 5).

    python -m benchmarks.sessions --data ../shared/data --sessions 20 \\
        --json benchmarks/results/sessions.json

Every live clip of ``video/live`` and ``wild/live`` is played as a camera would play it (10
frames/s, from a random moment of the clip, looped when shorter than the session, as Chromium
loops a camera file) into sessions whose prompts are drawn exactly as the server draws them
(``cloud.sessions.draw_actions``), on the server's schedule (``prompt_due``) and windows
(``challenge_windows``, which also stamp each action with its prompt time). Each session is
judged by the server's own action rule (``package_check.challenge_verdict``) on the landmarks
the server's analyser finds in those frames, computed once per clip.

Only the actions are counted. An injected recording of a live person is a live face to the
silent liveness cues (and the shipped fusion was fitted on windows of these very clips), so the
cues would refuse some of these sessions for reasons an attacker with a better recording would
not meet: counting their refusals would flatter the figure. A recording cannot follow prompts, so
every pass here is a pass by chance.

The other side, a proxy: the same clips' own movements (each time a turn, a nod or an open mouth
rises from rest), with a prompt placed 300, 500 or 800 ms before the rise, as a person who reacts
to it would move. These movements were not made in answer to anything (many are speech and
fidgeting, with other movement around them), so the share accepted is a floor for deliberate
actions, not a false-reject rate.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.cloud.sessions import (
    MIN_ACTIONS,
    PROMPTED_KINDS,
    challenge_windows,
    draw_actions,
    prompt_due,
)
from facegate.compose import build_liveness, build_pipeline
from facegate.core.media import decode_image
from facegate.core.package import ActionKind
from facegate.core.video import VideoFrame
from facegate.sdk.capture import video_frames
from facegate.settings import Settings
from facegate.vision.liveness import actions
from facegate.vision.liveness.analyzer import LivenessAnalyzer
from facegate.vision.liveness.package_check import challenge_verdict, frame_limits

FPS = 10.0
DELAYS_MS = (300, 500, 800)


def camera(path: Path, fps: float = FPS, width: int = 480) -> list[bytes]:
    """The clip at ``fps`` as the JPEGs a browser would send (at most ``width`` px wide)."""
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
    return frames


def clip_signals(analyzer: LivenessAnalyzer, jpegs: list[bytes], longest: int) -> np.ndarray:
    """Per-frame (ear, mouth, yaw, pitch) as the package check measures them, decoded with the
    limits of the longest session's package."""
    limits = frame_limits(longest)
    frames = [VideoFrame(i, i / FPS, decode_image(j, limits).pixels) for i, j in enumerate(jpegs)]
    observed = analyzer.observe(frames)
    points: list[Any] = [None] * len(frames)
    for o in observed.observations:
        points[o.index] = o.points
    h, w = frames[0].pixels.shape[:2]
    s = actions.signals_of(points, w, h)
    return np.stack([s.ear, s.mouth, s.yaw, s.pitch])


def passes(
    table: np.ndarray, frames: list[int], prompts: list[tuple[str, int]], prompt_seconds: float
) -> bool:
    """Whether the server's action rule accepts these frames (indices into ``table``) with
    ``prompts`` (action, capture ms): the frames after the last deadline are not sent."""
    stamps = [round(i * 1000 / FPS) for i in range(len(frames))]
    challenge = challenge_windows(stamps, prompts, prompt_seconds)
    signals = actions.signals_from([tuple(table[:, i]) for i in frames])  # type: ignore[misc]
    _, failure = challenge_verdict(challenge, signals, stamps)
    return not failure


def session_frames(length: int, start: int, n: int, prompt_seconds: float) -> list[int]:
    needed = int(prompt_due(n, prompt_seconds) / 1000 * FPS) + 1
    return [(start + i) % length for i in range(needed)]


def schedule(actions_: tuple[str, ...], prompt_seconds: float) -> list[tuple[str, int]]:
    """Each prompt goes out with the first frame at or past its due time (as the server sends)."""
    step = round(1000 / FPS)
    return [
        (kind, -(-prompt_due(k, prompt_seconds) // step) * step) for k, kind in enumerate(actions_)
    ]


def natural_rises(table: np.ndarray, kind: ActionKind) -> list[int]:
    """Frames where the clip's own ``kind`` starts: the last frame at rest before it reaches
    the action, against the whole clip's resting pose."""
    signals = actions.signals_from([tuple(table[:, i]) for i in range(table.shape[1])])  # type: ignore[misc]
    rest = actions.Resting.of(signals)
    if rest is None:
        return []
    st = actions.strengths(kind, signals, rest)
    out = []
    for i in range(1, len(st)):
        if st[i] >= 1.0 > st[i - 1]:
            r = i - 1
            while r > 0 and st[r] >= actions.PROMPTED_REST:
                r -= 1
            out.append(r)
    return out


def upper95(passed: int, total: int) -> float:
    """The Wilson score interval's upper end (95 %): how high the rate may be, given the count."""
    z = 1.959964
    p = passed / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre + spread) / (1 + z * z / total)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sessions", type=int, default=20, help="per clip and number of actions")
    ap.add_argument("--actions", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    settings = Settings(liveness_use_pack=False)
    prompt_seconds = settings.session_prompt_seconds
    analyzer = build_liveness(settings, build_pipeline(settings))
    rng = random.Random(args.seed)
    clips = sorted((args.data / "video" / "live").glob("*.*")) + sorted(
        (args.data / "wild" / "live").glob("*.*")
    )
    longest = int(prompt_due(max(args.actions), prompt_seconds) / 1000 * FPS) + 1
    tables = {c.name: clip_signals(analyzer, camera(c), longest) for c in clips}
    analyzer.close()

    by_actions: dict[int, dict[str, Any]] = {}
    by_kind: dict[str, list[int]] = {k.value: [0, 0] for k in PROMPTED_KINDS}
    for n in args.actions:
        passed = total = 0
        per_clip: dict[str, int] = {}
        for name, table in tables.items():
            wins = 0
            for _ in range(args.sessions):
                drawn = draw_actions(rng, n)
                frames = session_frames(table.shape[1], rng.randrange(table.shape[1]), n,
                                        prompt_seconds)  # fmt: skip
                ok = passes(table, frames, schedule(drawn, prompt_seconds), prompt_seconds)
                wins += ok
                if n == 1:
                    by_kind[drawn[0]][0] += ok
                    by_kind[drawn[0]][1] += 1
            per_clip[name] = wins
            passed += wins
            total += args.sessions
        by_actions[n] = {"passed": passed, "sessions": total, "rate": passed / total,
                         "upper95": upper95(passed, total), "by_clip": per_clip}  # fmt: skip
        print(f"{n} action(s): a recording passed {passed} of {total} sessions "
              f"({100 * passed / total:.2f} %)", flush=True)  # fmt: skip

    followed = {k.value: [0, 0] for k in PROMPTED_KINDS}
    lead = prompt_due(0, prompt_seconds)
    for table in tables.values():
        for kind in PROMPTED_KINDS:
            for rise in natural_rises(table, kind):
                for delay in DELAYS_MS:
                    start = rise - round((delay + lead) * FPS / 1000)
                    frames = session_frames(table.shape[1], start, 1, prompt_seconds)
                    if start < 0 or frames[-1] < start:  # no looping: one natural movement
                        continue
                    ok = passes(table, frames, [(kind.value, lead)], prompt_seconds)
                    followed[kind.value][0] += ok
                    followed[kind.value][1] += 1
    accepted = sum(p for p, _ in followed.values())
    tried = sum(t for _, t in followed.values())
    print(f"own movements prompted just before: {accepted} of {tried} accepted", flush=True)

    result = {
        "data": str(args.data),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "clips": list(tables),
        "prompt_seconds": prompt_seconds,
        "min_actions": MIN_ACTIONS,
        "prompted_kinds": [k.value for k in PROMPTED_KINDS],
        "reaction_ms": actions.REACTION_MS,
        "seed": args.seed,
        "by_actions": by_actions,
        "one_action_by_kind": {k: {"passed": p, "sessions": s} for k, (p, s) in by_kind.items()},
        "own_movements": {
            "delays_ms": list(DELAYS_MS),
            "accepted": accepted,
            "tried": tried,
            "by_kind": {k: {"accepted": p, "tried": t} for k, (p, t) in followed.items()},
        },
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
