"""The docs' figures are drawn from the benchmarks' JSON (as `make docs` does)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.figures import FIGURES, LIVENESS, render
from benchmarks.verification import PROFILES, load_results


def test_the_figures_are_drawn_from_the_results(tmp_path: Path) -> None:
    results = load_results()
    for r in results.values():
        d = r["score_distributions"]["det"]
        # A DET curve: as the threshold rises, fewer impostors and more genuine pairs pass.
        assert d["fmr"] == sorted(d["fmr"], reverse=True)
        assert d["fnmr"] == sorted(d["fnmr"])
        h = r["score_distributions"]["histogram"]
        assert sum(h["impostor"]) == r["impostor_pairs"]
    paths = render(tmp_path)
    assert [p.name for p in paths] == list(FIGURES)
    det = paths[0].read_text()
    assert det.startswith("<?xml")
    for profile in PROFILES:
        assert profile in det
    assert "false match rate" in det
    live = paths[2].read_text()
    assert "APCER" in live
    assert "BPCER" in live


def test_the_liveness_tradeoff_is_a_tradeoff() -> None:
    result = json.loads(LIVENESS.read_text())
    for label in ("default", "with_pack"):
        curve = result[label].get("tradeoff_loso")
        if curve is None:  # an install the benchmark skipped
            continue
        # As the threshold rises, more live customers are refused and fewer attacks pass.
        assert curve["threshold"] == sorted(curve["threshold"])
        assert curve["bpcer"] == sorted(curve["bpcer"])
        for apcer in curve["apcer"].values():
            assert apcer == sorted(apcer, reverse=True)
            assert len(apcer) == len(curve["threshold"])
        # What docs/liveness.md says of the figure: no threshold meets both targets yet.
        targets = result[label]["targets"]
        meets = [
            i
            for i, bpcer in enumerate(curve["bpcer"])
            if bpcer <= targets["bpcer"]
            and all(a[i] <= targets["apcer"] for a in curve["apcer"].values())
        ]
        assert meets == [], "a threshold meets the targets now: update docs/liveness.md"
