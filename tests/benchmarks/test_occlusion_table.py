"""The occlusion figures of the docs are the benchmark's: rendered from its JSON, never typed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmarks.docblocks import read_block
from benchmarks.occlusion import DOC_BLOCK, render_block

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_figures_are_rendered_from_the_benchmark_json() -> None:
    result = json.loads((ROOT / "benchmarks" / "results" / "occlusion.json").read_text())
    page = (ROOT / "docs" / "accuracy.md").read_text()
    assert read_block(page, DOC_BLOCK) == render_block(result)
    # The model the figures were taken on is the one shipped.
    shipped = ROOT / "src" / "facegate" / "vision" / "quality" / Path(result["setup"]["model"]).name
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert digest == result["setup"]["model_sha256"]
