"""The load figures of the docs are the benchmark's: rendered from its report, never typed."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.docblocks import read_block
from benchmarks.load import DOC_BLOCK, render_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_table_is_rendered_from_the_benchmark_report() -> None:
    report = json.loads((ROOT / "benchmarks" / "results" / "load.json").read_text())
    page = (ROOT / "docs" / "scale.md").read_text()
    assert read_block(page, DOC_BLOCK) == render_table(report)
    # Under load every answer was its pair's calm answer, in both set-ups.
    assert report["workers_agree_with_inprocess"] is True
    for run in ("inprocess", "with_workers", "kill", "soak"):
        assert report[run]["wrong"] == 0, run
