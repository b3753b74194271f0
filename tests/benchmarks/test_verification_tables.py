"""The accuracy and calibration tables are the verification benchmark's, rendered from
its JSON per profile, never typed; and the JSON says what the shipped calibration promises."""

from __future__ import annotations

from pathlib import Path

from benchmarks.docblocks import read_block
from benchmarks.verification import DOC_BLOCK, PROFILES, load_results, render_tables

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_tables_are_rendered_from_the_benchmark_json() -> None:
    page = (ROOT / "docs" / "accuracy.md").read_text()
    assert read_block(page, DOC_BLOCK) == render_tables(load_results())


def test_every_profile_is_measured_on_persons_as_well_as_on_photos() -> None:
    results = load_results()
    assert set(results) == set(PROFILES)
    for profile, r in results.items():
        assert r["profile"] == profile
        assert r["balanced_protocol"]["max_photos_per_person"] == 10
        assert set(r["far_at_threshold_balanced"]) == set(r["far_at_threshold"])
        assert set(r["tar_at_far_balanced"]) == set(r["tar_at_far"])
        assert r["same_surname_hard_set"]["pairs"] > 0
