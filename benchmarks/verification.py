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
* the same FAR and TAR counted on persons, not photos (``*_balanced``): at most 10 photos per
  person, drawn at random, mean over 5 draws. LFW is skewed (one person has 530 photos), so the
  all-pairs FAR mostly measures a few persons and their families;
* the hard set: cross-person pairs of persons sharing a surname (siblings, parents and children
  are among them, with namesakes), their FAR at each threshold, and the families whose closest
  pair scores highest.

A photo where no face is detected (the server would answer 4000) counts as a rejection.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import docblocks
from benchmarks.docblocks import write_block
from facegate.core.scoring import far_for_score, fit_calibration
from facegate.settings import Settings
from facegate.vision.manifest import load_manifest, load_profile_calibration
from tools.far import (
    BALANCED_CAP,
    FARS,
    THRESHOLDS,
    Apply,
    balanced,
    far_at_thresholds,
    pair_similarities,
    tar_at_far,
)
from tools.lfw_data import (
    LfwEmbeddings,
    embed_lfw,
    embedder_norms,
    impostor_similarities,
    person_half,
    read_pairs,
    similarities,
    similarity_bounds,
    surname_families,
)

HARD_SET_SHOWN = 12  # families listed, closest first
PROFILES = ("default", "accurate", "dlib")  # the docs' columns, from verification-<p>.json
DOC_BLOCK = "verification-tables"


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


def hard_set(
    emb: LfwEmbeddings, ids: list[str], norms: list[tuple[float, float]] | None, cal_apply: Apply
) -> dict[str, object]:
    """Cross-person pairs within each surname family: their FAR at each threshold, and the
    families whose closest pair scores highest."""
    families = surname_families(emb.persons)
    scores, closest = [], []
    for surname, members in families.items():
        files = [np.flatnonzero((emb.person == p) & emb.found) for p in members]
        best = (-np.inf, "", "")
        for i, a in enumerate(files):
            for j in range(i + 1, len(files)):
                b = files[j]
                if a.size == 0 or b.size == 0:
                    continue
                s = cal_apply(similarities(emb, ids, norms, a, b).ravel())
                scores.append(s)
                k = int(np.argmax(s))
                if s[k] > best[0]:
                    best = (float(s[k]), emb.files[a[k // b.size]], emb.files[b[k % b.size]])
        if best[1]:
            closest.append({"family": surname, "score": round(best[0], 4), "pair": best[1:]})
    allscores = np.concatenate(scores)
    closest.sort(key=lambda c: -float(c["score"]))  # type: ignore[arg-type]
    return {
        "families": len(families),
        "persons": sum(len(m) for m in families.values()),
        "pairs": int(allscores.size),
        "far_at_threshold": {f"{t:.1f}": float((allscores >= t).mean()) for t in THRESHOLDS},
        "closest": closest[:HARD_SET_SHOWN],
    }


def distributions(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, object]:
    """For the docs' figures: the DET curve (false non-match against false match rate) over the
    calibrated score, and the score histograms of genuine and impostor pairs."""
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    grid = np.round(np.arange(0.0, 1.0001, 0.01), 2)
    fmr = 1.0 - np.searchsorted(imp, grid, side="left") / imp.size  # accepted: score ≥ t
    fnmr = np.searchsorted(gen, grid, side="left") / gen.size  # refused: score < t
    edges = np.round(np.arange(0.0, 1.0001, 0.02), 2)
    return {
        "det": {"score": grid.tolist(), "fmr": fmr.tolist(), "fnmr": fnmr.tolist()},
        "histogram": {
            "edges": edges.tolist(),
            "genuine": np.histogram(genuine, edges)[0].tolist(),
            "impostor": np.histogram(impostor, edges)[0].tolist(),
        },
    }


def run(data: Path, profile: str, settings: Settings) -> dict[str, object]:
    spec = load_manifest().profile(profile)
    ids = list(spec.embedders)
    pcal = load_profile_calibration(spec)
    norms = [tuple(n) for n in pcal.norms] if len(ids) > 1 else None
    emb = embed_lfw(data, profile, settings)
    index = emb.index()
    pairs = [p for p in read_pairs(data) if p[0] in index and p[1] in index]
    sims = pair_similarities(emb, ids, norms, pairs)  # type: ignore[arg-type]
    same = np.array([s for _, _, s in pairs])
    acc, acc_std = ten_fold_accuracy(sims, same)

    impostor = impostor_similarities(emb, ids, norms)  # type: ignore[arg-type]
    genuine = sims[same]
    tar = tar_at_far(genuine, impostor)
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
        **balanced(emb, ids, norms, pcal.calibration.apply, genuine),
        "same_surname_hard_set": hard_set(emb, ids, norms, pcal.calibration.apply),
        "score_distributions": distributions(
            pcal.calibration.apply(genuine), pcal.calibration.apply(impostor)
        ),
        "pairs": len(pairs),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int(impostor.size),
        "images": len(emb.files),
        "faces_not_found": int((~emb.found).sum()),
        "pairs_with_no_face": int(
            sum(1 for a, b, _ in pairs if not (emb.found[index[a]] and emb.found[index[b]]))
        ),
    }


def print_table(r: dict[str, Any]) -> None:
    tar, far, hold = r["tar_at_far"], r["far_at_threshold"], r["far_at_threshold_holdout"]
    target, bal, hard = (
        r["far_at_threshold_target"],
        r["far_at_threshold_balanced"],
        r["same_surname_hard_set"],
    )
    print(
        f"profile {r['profile']}: {r['pairs']} pairs, {r['impostor_pairs']:,} impostor pairs, "
        f"{r['faces_not_found']} of {r['images']} images without a face"
    )
    print(
        f"10-fold accuracy  {100 * float(r['accuracy']):.2f} % "
        f"± {100 * float(r['accuracy_std']):.2f}"
    )
    print("TAR at FAR        " + "  ".join(f"{k}: {100 * v:.2f} %" for k, v in tar.items()))
    print(
        f"  ≤ {BALANCED_CAP} per person  "
        + "  ".join(f"{k}: {100 * v:.2f} %" for k, v in r["tar_at_far_balanced"].items())
    )
    print(
        "threshold | target FAR | measured FAR: fit set | held-out persons | "
        f"≤ {BALANCED_CAP} photos/person | same surname"
    )
    for t in far:
        print(
            f"   {t}    | {target[t]:.0e}      | {far[t]:.2e}              | {hold[t]:.2e}         "
            f"| {bal[t]:.2e}            | {hard['far_at_threshold'][t]:.2e}"
        )
    print(
        f"same-surname hard set: {hard['families']} families, {hard['persons']} persons, "
        f"{hard['pairs']:,} pairs; closest:"
    )
    for c in hard["closest"]:
        print(f"  {c['family']:20} {c['score']:.3f}  {c['pair'][0]}  {c['pair'][1]}")


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def render_tables(results: dict[str, dict[str, Any]]) -> str:
    """The accuracy, FAR and hard-set tables of the docs, from the benchmark's JSON per profile."""
    first = next(iter(results.values()))
    caps = first["balanced_protocol"]["max_photos_per_person"]
    lines = [
        "| profile | 10-fold accuracy | TAR@FAR 1e-3 | 1e-4 | 1e-5 | 1e-6 |",
        "|---|---|---|---|---|---|",
    ]
    for p, r in results.items():
        cells = [f"{_pct(r['tar_at_far'][f])} ({_pct(r['tar_at_far_balanced'][f])})" for f in FARS]
        lines.append(f"| `{p}` | {_pct(r['accuracy'])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"In parentheses: the TAR where the FAR counted on at most {caps} photos per person "
        "reaches that rate. On "
        f"`{Path(first['data']).name}`: {first['pairs']} pairs of `pairs.txt` "
        f"({first['genuine_pairs']} genuine), {first['impostor_pairs']:,} impostor pairs (every "
        f"cross-person pair; about {first['balanced_protocol']['impostor_pairs_mean']:,} with "
        f"at most {caps} photos per person), {first['images']} photos, no face found in "
        f"{first['faces_not_found']}.",
        "",
        "Measured FAR at each `verification_score` threshold (target 10^-(10t-3)): *fit* "
        "(in-sample) = the pairs the shipped calibration was fitted on; *held-out* (out of "
        "sample: the figure that predicts unseen persons) = a calibration fitted on half of the "
        f"persons, measured on the other half's pairs; *≤ {caps}* (in-sample) = the shipped "
        f"calibration on its own fit persons, at most {caps} photos each (mean of "
        f"{first['balanced_protocol']['draws']} draws):",
        "",
        "| threshold | target | "
        + " | ".join(f"{p} fit | {p} held-out | {p} ≤ {caps}" for p in results)
        + " |",
        "|---|---|" + "---|" * (3 * len(results)),
    ]
    for t in (f"{x:.1f}" for x in THRESHOLDS):
        cells = [
            f"{r['far_at_threshold'][t]:.2e} | {r['far_at_threshold_holdout'][t]:.2e} | "
            f"{r['far_at_threshold_balanced'][t]:.2e}"
            for r in results.values()
        ]
        lines.append(
            f"| {t} | {first['far_at_threshold_target'][t]:.0e} | " + " | ".join(cells) + " |"
        )
    hard = {p: r["same_surname_hard_set"] for p, r in results.items()}
    h0 = next(iter(hard.values()))
    lines += [
        "",
        "The hard set (in-sample: these persons are in the calibration's fit set): the "
        f"{h0['pairs']:,} cross-person pairs of {h0['persons']} persons in "
        f"{h0['families']} families sharing a surname. FAR at each threshold:",
        "",
        "| profile | " + " | ".join(f"{x:.1f}" for x in THRESHOLDS) + " |",
        "|---|" + "---|" * len(THRESHOLDS),
    ]
    for p, h in hard.items():
        lines.append(
            f"| `{p}` | "
            + " | ".join(f"{h['far_at_threshold'][f'{x:.1f}']:.1e}" for x in THRESHOLDS)
            + " |"
        )
    p0 = next(iter(hard))
    lines += [
        "",
        f"Closest pair of each family (`{p0}`), highest first:",
        "",
        "| family | score | pair |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c['family']} | {c['score']:.3f} | `{c['pair'][0]}` · `{c['pair'][1]}` |"
        for c in h0["closest"]
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--profile", default=None, help="default: the settings' profile")
    ap.add_argument(
        "--doc",
        type=Path,
        help="then rewrite the tables in this page from results/verification-<p>.json",
    )
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
    if args.doc:
        write_block(args.doc, DOC_BLOCK, render_tables(load_results()))
        print(f"rewrote the verification tables of {args.doc}", file=sys.stderr)
    return 0


def load_results() -> dict[str, dict[str, Any]]:
    return docblocks.load_results("verification", PROFILES)


if __name__ == "__main__":
    raise SystemExit(main())
