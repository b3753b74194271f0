"""Fit the similarity → verification_score calibration of a profile on LFW-format data.

    python -m tools.calibrate --data ../shared/data/lfw [--profile default|accurate|all]

Every image goes through the server's own decode → detect → largest face → embed path; every
cross-person pair (about 20 million on the dev split) is an impostor pair. The score of a
similarity s is (3 − log10 FAR(s)) / 10, so that a threshold t in 0.4 … 0.9 accepts 10^-(10t-3)
of impostors, as the SenseID manual promises. The result is written next to the model manifest
(``src/facegate/vision/calibration/<profile>.json``) and is loaded by the server at start-up.

It is fitted on every cross-person pair, photos weighed alike: the 1e-6 end needs the most pairs
there are. LFW is skewed (one person has 530 photos), so the fit is also counted on persons (at
most 10 photos each, mean of 5 draws, ``far_at_threshold_balanced`` in the file): the two must
agree for the scores to mean what the manual says for any customer, not for LFW's few prolific
persons.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from facegate.core.scoring import fit_calibration
from facegate.settings import Settings
from facegate.vision.manifest import load_manifest
from tools.far import BALANCED_CAP, balanced, pair_similarities
from tools.lfw_data import (
    embed_lfw,
    embedder_norms,
    impostor_similarities,
    read_pairs,
    similarity_bounds,
)
from tools.provenance import data_digest, git_commit

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "facegate" / "vision" / "calibration"


def calibrate(data: Path, profile: str, settings: Settings) -> dict[str, object]:
    spec = load_manifest().profile(profile)
    emb = embed_lfw(data, profile, settings)
    ids = list(spec.embedders)
    norms = embedder_norms(emb, ids) if len(ids) > 1 else [(0.0, 1.0)]
    sims = impostor_similarities(emb, ids, norms if len(ids) > 1 else None)
    lo, hi = similarity_bounds(ids, norms if len(ids) > 1 else None)
    cal = fit_calibration(
        sims,
        lower_bound=lo,
        upper_bound=hi,
        meta={
            "dataset": f"LFW-format folder {data.name}: "
            f"{len(emb.files)} images, {len(emb.persons)} persons",
            "faces_not_found": int((~emb.found).sum()),
            "script": "tools/calibrate.py",
            "commit": git_commit(Path(__file__).resolve().parents[1]),
            "data_digest": data_digest(data, emb.files),
            "fitted": dt.date.today().isoformat(),
            "detect_max_side": settings.detect_max_side,
            "detect_min_score": settings.detect_min_score,
        },
    )
    contract = "+".join([spec.detector, *ids]) + "/main-face/v1"
    index = emb.index()
    pairs = [p for p in read_pairs(data) if p[0] in index and p[1] in index and p[2]]
    fused_norms = norms if len(ids) > 1 else None
    genuine = pair_similarities(emb, ids, fused_norms, pairs)
    check = balanced(emb, ids, fused_norms, cal.apply, genuine)
    return {
        "profile": profile,
        "embedders": ids,
        "contract": contract,
        "norms": [list(n) for n in norms],
        "calibration": cal.to_dict(),
        # In-sample (the persons it was fitted on), counted on persons rather than photos.
        "far_at_threshold_balanced": check["far_at_threshold_balanced"],
        "balanced_protocol": check["balanced_protocol"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--profile", default="all")
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = ap.parse_args()
    settings = Settings()
    profiles = list(load_manifest().profiles) if args.profile == "all" else [args.profile]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for profile in profiles:
        result = calibrate(args.data, profile, settings)
        out = args.out_dir / f"{profile}.json"
        out.write_text(json.dumps(result, indent=1) + "\n")
        cal = result["calibration"]
        assert isinstance(cal, dict)
        knots = dict(zip(np.round(cal["score"], 2), cal["similarity"], strict=True))
        print(f"{profile}: wrote {out}", file=sys.stderr)
        bal = result["far_at_threshold_balanced"]
        assert isinstance(bal, dict)
        for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            print(
                f"  score {t:.1f} ↔ similarity {knots.get(round(t, 2), float('nan')):.4f}; "
                f"FAR with ≤ {BALANCED_CAP} photos per person {bal[f'{t:.1f}']:.2e}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
