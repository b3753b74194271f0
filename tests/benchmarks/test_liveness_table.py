"""The liveness figures of the docs are the benchmark's: rendered from its JSON, never typed."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.docblocks import read_block
from benchmarks.liveness import DOC_BLOCK, render_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_table_is_rendered_from_the_benchmark_json() -> None:
    result = json.loads((ROOT / "benchmarks" / "results" / "liveness.json").read_text())
    page = (ROOT / "docs" / "liveness.md").read_text()
    assert read_block(page, DOC_BLOCK) == render_table(result)
    # And the table says what the shipped fusion files say they are.
    for label, name in (("default", "video_default.json"), ("with_pack", "video_minifasnet.json")):
        shipped = json.loads((ROOT / "src" / "facegate" / "vision" / "liveness" / name).read_text())
        assert result[label]["threshold"] == shipped["threshold"]
