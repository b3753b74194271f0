"""The docs' figures are drawn from the verification benchmark's JSON (as `make docs` does)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.figures import FIGURES, render
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
