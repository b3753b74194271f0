"""MkDocs hooks (mkdocs.yml ``hooks:``): the figures are drawn from benchmarks/results/*.json
into docs/figures/ before the pages are collected, so the site never shows a stale plot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def on_pre_build(config: Any) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.figures import render

    render(Path(config["docs_dir"]) / "figures")
