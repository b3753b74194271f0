"""Blocks of the documentation that a benchmark renders from its JSON, between two markers:

    <!-- NAME:begin (the command that renders it) -->
    ...
    <!-- NAME:end -->

The benchmark rewrites its block with ``--doc PAGE``; a test checks that each block is what
its JSON renders, so no figure in them is ever typed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load_results(kind: str, profiles: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``results/<kind>-<profile>.json`` for each profile, by profile."""
    return {p: json.loads((RESULTS / f"{kind}-{p}.json").read_text()) for p in profiles}


def _begin(name: str) -> str:
    return f"<!-- {name}:begin"


def _end(name: str) -> str:
    return f"<!-- {name}:end -->"


def read_block(text: str, name: str) -> str:
    """The block's content, without its markers."""
    rest = text.split(_begin(name), 1)[1]
    return rest.split("-->", 1)[1].split(_end(name), 1)[0].strip()


def write_block(path: Path, name: str, content: str) -> None:
    """Replace the block ``name`` of ``path`` (its begin marker, with the command, is kept)."""
    text = path.read_text()
    head, rest = text.split(_begin(name), 1)
    marker_tail, rest = rest.split("-->", 1)
    _, tail = rest.split(_end(name), 1)
    path.write_text(f"{head}{_begin(name)}{marker_tail}-->\n{content}\n{_end(name)}{tail}")
