"""Verification accuracy and score calibration on an LFW-format folder.

    python -m benchmarks.verification --data ../shared/data/lfw --json OUT.json [--profile default]

Uses the server's own pipeline (decode → YuNet → largest face → embed) and the calibration the
server loads. Reports:

* 10-fold accuracy on ``pairs.txt`` (threshold chosen on nine folds, applied to the tenth);
* TAR at FAR 1e-3 … 1e-6: genuine pairs of pairs.txt accepted at the similarity where that
  fraction of all cross-person pairs is accepted;
* the measured FAR at each verification_score threshold 0.4 … 0.9 over all cross-person pairs,
  against the manual's 10^-(10t-3). The shipped calibration was fitted on these same pairs, so
  this checks the fit; ``far_at_threshold_holdout`` is the honest generalisation figure: a
  calibration fitted on half of the persons, measured on the other half's pairs.

A photo where no face is detected (the server would answer 4000) counts as a rejection.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from facegate.core.scoring import far_for_score, fit_calibration
from facegate.settings import Settings
from facegate.vision.manifest import load_manifest, load_profile_calibration
from tools.lfw_data import (
    embed_lfw,
    embedder_norms,
    impostor_similarities,
    person_half,
    read_pairs,
    similarity_bounds,
)

THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FARS = ("1e-3", "1e-4", "1e-5", "1e-6")


def ten_fold_accuracy(sims: np.ndarray, same: np.ndarray, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    folds = np.empty(len(sims), dtype=int)
    for label in (True, False):  # stratified: each fold keeps the genuine/impostor ratio
        idx = np.flatnonzero(same == label)
        rng.shuffle(idx)
        folds[idx] = np.arange(idx.size) % 10
    accs = []
    for k in range(10):
        train, test = folds != k, folds == k
        cand = np.unique(sims[train])
        cand = np.concatenate([[cand[0] - 1e-6], (cand[:-1] + cand[1:]) / 2, [cand[-1] + 1e-6]])
        train_acc = [((sims[train] >= t) == same[train]).mean() for t in cand]
        t_best = cand[int(np.argmax(train_acc))]
        accs.append(((sims[test] >= t_best) == same[test]).mean())
    return float(np.mean(accs)), float(np.std(accs))


def threshold_at_far(impostor_sorted_desc: np.ndarray, far: float) -> float:
    k = max(int(far * impostor_sorted_desc.size), 1)
    return float(impostor_sorted_desc[k - 1])


def far_at_thresholds(cal_apply: object, impostor: np.ndarray) -> dict[str, float]:
    scores = cal_apply(impostor)  # type: ignore[operator]
    return {f"{t:.1f}": float((scores >= t).mean()) for t in THRESHOLDS}


def run(data: Path, profile: str, settings: Settings) -> dict[str, object]:
    spec = load_manifest().profile(profile)
    ids = list(spec.embedders)
    pcal = load_profile_calibration(spec)
    norms = [tuple(n) for n in pcal.norms] if len(ids) > 1 else None
    emb = embed_lfw(data, profile, settings)
    index = emb.index()
    lo, _ = similarity_bounds(ids, norms)  # type: ignore[arg-type]

    def pair_sim(a: str, b: str) -> float:
        ia, ib = index[a], index[b]
        if not (emb.found[ia] and emb.found[ib]):
            return lo  # the server answers 4000: a rejection
        cos = [float(emb.vectors[i][ia] @ emb.vectors[i][ib]) for i in ids]
        if norms is None:
            return cos[0]
        return float(sum((c - m) / s for c, (m, s) in zip(cos, norms, strict=True)))

    pairs = [p for p in read_pairs(data) if p[0] in index and p[1] in index]
    sims = np.array([pair_sim(a, b) for a, b, _ in pairs])
    same = np.array([s for _, _, s in pairs])
    acc, acc_std = ten_fold_accuracy(sims, same)

    impostor = impostor_similarities(emb, ids, norms)  # type: ignore[arg-type]
    imp_desc = np.sort(impostor)[::-1]
    genuine = sims[same]
    tar = {f: float((genuine >= threshold_at_far(imp_desc, float(f))).mean()) for f in FARS}
    far = far_at_thresholds(pcal.calibration.apply, impostor)

    # Hold-out: fit on half A's impostor pairs, measure on half B's.
    half_a = person_half(emb.persons, emb.person)
    norms_a = embedder_norms(emb, ids, subset=half_a) if len(ids) > 1 else None
    lo_a, hi_a = similarity_bounds(ids, norms_a)
    cal_a = fit_calibration(
        impostor_similarities(emb, ids, norms_a, subset=half_a), lower_bound=lo_a, upper_bound=hi_a
    )
    imp_b = impostor_similarities(emb, ids, norms_a, subset=~half_a)
    far_holdout = far_at_thresholds(cal_a.apply, imp_b)

    return {
        "profile": profile,
        "data": str(data),
        "accuracy": acc,
        "accuracy_std": acc_std,
        "tar_at_far": tar,
        "far_at_threshold": far,
        "far_at_threshold_target": {f"{t:.1f}": far_for_score(t) for t in THRESHOLDS},
        "far_at_threshold_holdout": far_holdout,
        "holdout_impostor_pairs": int(imp_b.size),
        "pairs": len(pairs),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int(impostor.size),
        "images": len(emb.files),
        "faces_not_found": int((~emb.found).sum()),
        "pairs_with_no_face": int(
            sum(1 for a, b, _ in pairs if not (emb.found[index[a]] and emb.found[index[b]]))
        ),
    }


def print_table(r: dict[str, object]) -> None:
    tar = r["tar_at_far"]
    far = r["far_at_threshold"]
    hold = r["far_at_threshold_holdout"]
    target = r["far_at_threshold_target"]
    assert isinstance(tar, dict)
    assert isinstance(far, dict)
    assert isinstance(hold, dict)
    assert isinstance(target, dict)
    print(
        f"profile {r['profile']}: {r['pairs']} pairs, {r['impostor_pairs']:,} impostor pairs, "
        f"{r['faces_not_found']} of {r['images']} images without a face"
    )
    print(
        f"10-fold accuracy  {100 * float(r['accuracy']):.2f} % "
        f"± {100 * float(r['accuracy_std']):.2f}"
    )
    print("TAR at FAR        " + "  ".join(f"{k}: {100 * v:.2f} %" for k, v in tar.items()))
    print("threshold | target FAR | measured FAR (fit set) | measured FAR (held-out persons)")
    for t in far:
        print(f"   {t}    | {target[t]:.0e}      | {far[t]:.2e}               | {hold[t]:.2e}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--profile", default=None, help="default: the settings' profile")
    args = ap.parse_args()
    settings = Settings()
    start = time.perf_counter()
    result = run(args.data, args.profile or settings.profile, settings)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
