"""Fit the liveness fusion weights and thresholds, and write them as data.

    python benchmarks/fit_liveness.py --data ../shared/data [--synth DIR] [--pack DIR] [--write]
    (make fit-liveness)

Video fusion: live = the live clips cut into 3.5 s windows; attack = the synthetic print and
replay videos (``synth_attacks.py``). The two real replay videos are NOT used: they stay a test.
Still fusion (frame-level, for the benchmark on NUAA and MSU): their live and attack photos.

Each fusion is a set of logistic regressions on standardised cues (class-balanced, L2), one per
attack type for the videos (an *expert* fitted on the live samples against prints only, another
against replays only; the fused score is the lower of the two, see ``fusion``). Its quality is
estimated by grouped 5-fold cross-validation — a person's or a clip's samples (a live clip and
the replays made from it) are never split between training and test — and the threshold is set
on the cross-validated live scores, so that it is not tuned on the very scores it is applied to.
``--pack DIR`` (the pack root, e.g. ``$FACEGATE_MODEL_DIR``) adds the MiniFASNet score as a cue
and fits the ``*_minifasnet.json`` files too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _liveness import (
    SYNTH_DIR,
    Sample,
    feature_table,
    live_windows,
    real_videos,
    stills,
    synthetic_videos,
)
from facegate.settings import Settings
from facegate.vision.liveness.fusion import Expert, Fusion, fusion_file
from facegate.vision.packs import installed_packs, packs_root

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "facegate" / "vision" / "liveness"

# Measured but left out of the video fusion, because on this data they separate nothing and
# only add noise: the pulse (the live clips are compressed talking-head videos, several of them
# generated, so no clean pulse survives), specular glare, the face-crop spectral peak and
# saturation (the native-resolution ``moire`` measures the screen grid better), the median
# non-rigidity (its 90th percentile carries the same information with less noise), the face's
# high-frequency share (it follows the source clip's resolution and compression more than the
# attack) and the lip spread (redundant with non-rigidity and blinks). The last two were dropped
# after comparing cross-validated results (APCER at 5 % BPCER: 7.5 % with both, 3.3 % without,
# the same for C from 0.1 to 1): a choice made on these folds, so the 3.3 % is slightly
# optimistic; the kept-aside split is the real test.
# ``planar`` (corner-tracked plane residual) came later, with the per-attack experts: together
# they took the cross-validated APCER at 5 % BPCER from 6.7 % to 4.2 % (planar alone in the one
# model: 8.3 %; experts alone: 5.8 %). The same caveat applies: chosen on these folds.
VIDEO_CUES = (
    "nonrigid_p90",
    "independence",
    "ring_vs_bg",
    "blink",
    "contrast",
    "moire",
    "edges",
    "enclosure",
    "planar",
)
STILL_CUES = (
    "hf_ratio",
    "spectral_peak",
    "saturation",
    "contrast",
    "specular",
    "moire",
    "edges",
    "enclosure",
)
# The operating point: the share of cross-validated live samples the threshold may reject.
# Video: none — a live customer turned away is the failure users notice, and every live clip
# must pass; the ROC point the issue names (APCER at 5 % BPCER) is reported beside it. Stills
# (benchmarks only): 5 %.
TARGET_BPCER = {"video": 0.0, "still": 0.05}
# Expert name → the attack kinds it is fitted against (see ``fusion``).
VIDEO_EXPERTS = {"print": ("print",), "replay": ("replay",)}
# Stills: one model for both kinds. MSU's 30 replay photos of 15 subjects are the only still
# replays, too few to fit an expert of their own under grouped cross-validation.
STILL_EXPERTS = {"any": ("print", "replay")}
C = 0.3


def matrix(
    samples: list[Sample], table: dict[str, dict[str, float] | None], cues: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Sample]]:
    rows, labels, groups, kept = [], [], [], []
    for s in samples:
        f = table.get(s.id)
        if f is None or any(c not in f for c in cues):
            continue
        rows.append([f[c] for c in cues])
        labels.append(1 if s.kind == "live" else 0)
        groups.append(s.group)
        kept.append(s)
    return np.array(rows, float), np.array(labels), np.array(groups), kept


def _z(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    # As the server does: an unmeasured cue (NaN) is weighed as average (z = 0).
    return np.nan_to_num(np.clip((x - mean) / scale, -6, 6), nan=0.0)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    mean, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    scale[~(scale > 1e-9)] = 1.0
    mean = np.nan_to_num(mean)
    z = _z(x, mean, scale)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(z, y)
    return mean, scale, model


def _predict(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, m: LogisticRegression) -> Any:
    return m.predict_proba(_z(x, mean, scale))[:, 1]


def _fit_experts(
    x: np.ndarray, y: np.ndarray, kinds: np.ndarray, experts: dict[str, tuple[str, ...]]
) -> list[tuple[str, np.ndarray, np.ndarray, LogisticRegression]]:
    """One logistic model per expert, fitted on the live samples against its attack kinds."""
    out = []
    for attack, attack_kinds in experts.items():
        rows = (y == 1) | np.isin(kinds, attack_kinds)
        if len(set(y[rows].tolist())) < 2:
            raise SystemExit(f"no {'/'.join(attack_kinds)} samples to fit the {attack} expert")
        out.append((attack, *_fit(x[rows], y[rows])))
    return out


def _score_experts(
    x: np.ndarray, fitted: list[tuple[str, np.ndarray, np.ndarray, LogisticRegression]]
) -> np.ndarray:
    # As Fusion.score: the least convinced expert decides.
    return np.min([_predict(x, mean, scale, m) for _, mean, scale, m in fitted], axis=0)


def rates(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    live, attack = scores[y == 1], scores[y == 0]
    bpcer = float((live < threshold).mean()) if len(live) else float("nan")
    apcer = float((attack >= threshold).mean()) if len(attack) else float("nan")
    return {"apcer": apcer, "bpcer": bpcer, "acer": (apcer + bpcer) / 2}


def apcer_at_bpcer(scores: np.ndarray, y: np.ndarray, bpcer: float) -> float:
    live = np.sort(scores[y == 1])
    t = float(live[int(np.floor(bpcer * len(live)))])
    return float((scores[y == 0] >= t).mean())


def fit_fusion(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    kinds: np.ndarray,
    cues: tuple[str, ...],
    experts: dict[str, tuple[str, ...]],
    target_bpcer: float = 0.05,
) -> tuple[Fusion, np.ndarray]:
    folds = GroupKFold(n_splits=min(5, len(set(groups.tolist()))))
    cv = np.zeros(len(y))
    for train, test in folds.split(x, y, groups):
        cv[test] = _score_experts(x[test], _fit_experts(x[train], y[train], kinds[train], experts))
    # The highest threshold that rejects at most TARGET_BPCER of the cross-validated live
    # samples: those strictly below it are rejected.
    live = np.sort(cv[y == 1])
    threshold = float(live[int(np.floor(target_bpcer * len(live)))])
    fitted = _fit_experts(x, y, kinds, experts)
    info = {
        "fitted_by": "benchmarks/fit_liveness.py",
        "n_live": int((y == 1).sum()),
        "n_attack": int((y == 0).sum()),
        "n_attack_by_expert": {
            attack: int(np.isin(kinds, attack_kinds).sum())
            for attack, attack_kinds in experts.items()
        },
        "cv_at_threshold": rates(cv, y, threshold),
        "cv_apcer_at_bpcer_5pct": apcer_at_bpcer(cv, y, 0.05),
        "threshold_rule": (
            f"the highest that rejects at most {target_bpcer:.0%} of the cross-validated live "
            "scores"
        ),
    }
    fusion = Fusion(
        name=name,
        experts=tuple(
            Expert(
                attack=attack,
                features=cues,
                mean=tuple(float(v) for v in mean),
                scale=tuple(float(v) for v in scale),
                weights=tuple(float(v) for v in m.coef_[0]),
                bias=float(m.intercept_[0]),
            )
            for attack, mean, scale, m in fitted
        ),
        threshold=round(threshold, 4),
        info=info,
    )
    return fusion, cv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--synth", type=Path, default=SYNTH_DIR)
    ap.add_argument(
        "--pack",
        type=Path,
        default=None,
        help="model pack root holding minifasnet/ (default: the installed one, if any)",
    )
    ap.add_argument("--write", action="store_true", help="write the fusion JSON files")
    args = ap.parse_args()
    settings = Settings()
    if args.pack is None:
        root = packs_root(settings.model_dir)
        args.pack = root if "minifasnet" in installed_packs(root) else None
    print(f"MiniFASNet pack: {args.pack or 'not installed, fitting the default fusions only'}")

    video_samples = live_windows(args.data, settings.video_limits) + synthetic_videos(args.synth)
    real = real_videos(args.data)
    still_samples = stills(args.data)
    name = "pack" if args.pack else "default"
    vt = feature_table(video_samples + real, settings, args.pack, name=f"video-{name}")
    st = feature_table(still_samples, settings, args.pack, name=f"still-{name}")

    variants = [(False, VIDEO_CUES, STILL_CUES)]
    if args.pack:
        variants.append((True, (*VIDEO_CUES, "pack"), (*STILL_CUES, "pack")))
    for with_pack, vcues, scues in variants:
        label = "with_pack" if with_pack else "default"
        x, y, g, kept = matrix(video_samples, vt, vcues)
        kinds = np.array([s.kind for s in kept])
        vf, cv = fit_fusion(
            f"video-{label}", x, y, g, kinds, vcues, VIDEO_EXPERTS, TARGET_BPCER["video"]
        )
        xr, _, _, real_kept = matrix(real, vt, vcues)
        real_scores = [vf.score(dict(zip(vcues, row, strict=True))) for row in xr]
        xs, ys, gs, still_kept = matrix(still_samples, st, scues)
        skinds = np.array([s.kind for s in still_kept])
        sf, _ = fit_fusion(
            f"still-{label}", xs, ys, gs, skinds, scues, STILL_EXPERTS, TARGET_BPCER["still"]
        )
        print(f"\n== {label}: video fusion on {len(y)} samples, threshold {vf.threshold}")
        print(json.dumps(vf.info, indent=1))
        print("   weights (per standard deviation)  " + "  ".join(e.attack for e in vf.experts))
        for k, cue in enumerate(vcues):
            print(f"   {cue:33}" + "".join(f"{e.weights[k]:+8.2f}" for e in vf.experts))
        for s, sc in zip(real_kept, real_scores, strict=True):
            verdict = "pass" if sc >= vf.threshold else "FAIL"
            print(f"   real {s.kind:6} {s.path.name:45} {sc:.3f} {verdict}")
        print(f"== {label}: still fusion, threshold {sf.threshold}")
        print(json.dumps(sf.info, indent=1))
        worst = sorted((float(cv[i]), kept[i].id) for i in range(len(y)) if y[i] == 1)[:5]
        print("   lowest cross-validated live windows:", worst)
        missed = sorted(
            ((float(cv[i]), kept[i].id) for i in range(len(y)) if y[i] == 0),
            reverse=True,
        )
        missed = [m for m in missed if m[0] >= vf.threshold]
        print(f"   attacks accepted at the threshold, cross-validated ({len(missed)}):", missed)
        if args.write:
            for kind, fusion in (("video", vf), ("still", sf)):
                path = OUT_DIR / fusion_file(kind, with_pack)
                path.write_text(json.dumps(fusion.to_dict(), indent=1) + "\n")
                print(f"   wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
