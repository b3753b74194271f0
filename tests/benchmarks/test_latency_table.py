"""The speed table of the docs is the latency benchmark's, rendered from its JSON."""

from __future__ import annotations

from pathlib import Path

from benchmarks.docblocks import read_block
from benchmarks.latency import DOC_BLOCK, load_results, render_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_table_is_rendered_from_the_benchmark_json() -> None:
    page = (ROOT / "docs" / "speed.md").read_text()
    assert read_block(page, DOC_BLOCK) == render_table(load_results())
    assert "face_recognition" in read_block(page, DOC_BLOCK)  # the peer measured beside us
