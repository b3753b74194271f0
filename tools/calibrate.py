"""Fit the similarity → verification_score calibration of a profile on LFW-format data.

    python -m tools.calibrate --data ../shared/data/lfw [--profile default|accurate|all]

Every image goes through the server's own decode → detect → largest face → embed path; every
cross-person pair (about 20 million on the dev split) is an impostor pair. The score of a
similarity s is (3 − log10 FAR(s)) / 10, so that a threshold t in 0.4 … 0.9 accepts 10^-(10t-3)
of impostors, as the SenseID manual promises. The result is written next to the model manifest
(``src/facegate/vision/calibration/<profile>.json``) and is loaded by the server at start-up.
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
from tools.lfw_data import embed_lfw, embedder_norms, impostor_similarities, similarity_bounds
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
    return {
        "profile": profile,
        "embedders": ids,
        "contract": contract,
        "norms": [list(n) for n in norms],
        "calibration": cal.to_dict(),
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
        for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            print(
                f"  score {t:.1f} ↔ similarity {knots.get(round(t, 2), float('nan')):.4f}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
