"""The README's liveness figures are the benchmark's: rendered from its JSON, never typed."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.liveness import README_BLOCK, render_readme
from benchmarks.readme import read_block

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_rendered_from_the_benchmark_json() -> None:
    result = json.loads((ROOT / "benchmarks" / "results" / "liveness.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert read_block(readme, README_BLOCK) == render_readme(result)
    # And the table says what the shipped fusion files say they are.
    for label, name in (("default", "video_default.json"), ("with_pack", "video_minifasnet.json")):
        shipped = json.loads((ROOT / "src" / "facegate" / "vision" / "liveness" / name).read_text())
        assert result[label]["threshold"] == shipped["threshold"]
