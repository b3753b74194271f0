"""Blocks of the documentation made from the code rather than typed: the settings reference
(from the ``Settings`` model: names, types, defaults, bounds and each field's docstring) and the
README's headline figures (from ``benchmarks/results/*.json``).

    python -m tools.docs            # rewrite them
    python -m tools.docs --check    # exit 1 if a block differs from what the code renders

A test runs the check, so the docs cannot drift from the code or the measurements.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo

from benchmarks.docblocks import RESULTS, read_block, write_block
from facegate.settings import MiB, Settings

ROOT = Path(__file__).resolve().parents[1]


def env_name(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return f"FACEGATE_{name.upper()}"


def type_text(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if get_origin(annotation) is typing.Annotated:
        return type_text(get_args(annotation)[0])
    if get_origin(annotation) in (types.UnionType, typing.Union):
        return " or ".join(type_text(a) for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        return "comma-separated list"
    return {int: "integer", float: "number", bool: "true/false", str: "text", Path: "path"}.get(
        annotation, str(annotation)
    )


def default_text(name: str, field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "empty" if field.default_factory is list else "physical cores"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else _number(value)


def _number(value: float) -> str:
    if isinstance(value, int) and value >= MiB and value % MiB == 0:
        return f"{value // MiB} MiB"
    return f"{value:g}"


def bounds_text(field: FieldInfo) -> str:
    parts = []
    for m in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(m, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{sign} {_number(getattr(m, attr))}")
        if isinstance(m, annotated_types.MinLen):
            parts.append(f"≥ {m.min_length} characters")
    return ", ".join(parts)


def render_settings() -> str:
    lines = ["| variable | value | default | bounds | what it does |", "|---|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        about = " ".join((field.description or "").split())
        if not about:
            raise ValueError(f"Settings.{name} has no docstring")
        lines.append(
            f"| `{env_name(name, field)}` | {type_text(field.annotation)} | "
            f"{default_text(name, field)} | {bounds_text(field)} | {about} |"
        )
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_headline() -> str:
    """A few figures for the README, each from its benchmark's JSON, with its page."""
    ver = json.loads((RESULTS / "verification-default.json").read_text())
    lat = json.loads((RESULTS / "latency-default.json").read_text())
    live = json.loads((RESULTS / "liveness.json").read_text())
    one = lat["facegate"]["concurrency_1"]
    four = lat["facegate"]["concurrency_4"]
    hold = ver["far_at_threshold_holdout"]
    ld, lp = live["default"]["prediction_nested_loso"], live["with_pack"]["prediction_nested_loso"]
    return "\n".join(
        [
            "| what | measured | details |",
            "|---|---|---|",
            f"| LFW 10-fold accuracy, `default` profile | {100 * ver['accuracy']:.2f} % | "
            "[accuracy](docs/accuracy.md) |",
            f"| FAR at threshold 0.6 / 0.8 on persons the calibration never saw (target 1e-3 / "
            f"1e-5) | {hold['0.6']:.1e} / {hold['0.8']:.1e} | [calibration](docs/accuracy.md) |",
            f"| photo verification, 640×480 webcam pair, 2 cores | p50 {one['p50_ms']:.0f} ms; "
            f"{four['throughput_rps']:.1f} pairs/s at concurrency 4 | [speed](docs/speed.md) |",
            f"| silent liveness, live windows refused (nested leave-one-source-out) | "
            f"{_pct(ld['bpcer'])} default, {_pct(lp['bpcer'])} with the pack | "
            "[liveness](docs/liveness.md) |",
            "| silent liveness, synthetic attacks let through (print / replay) | "
            f"{_pct(ld['apcer_by_type']['print'])} / {_pct(ld['apcer_by_type']['replay'])} "
            f"default, {_pct(lp['apcer_by_type']['print'])} / "
            f"{_pct(lp['apcer_by_type']['replay'])} with the pack | "
            "[liveness](docs/liveness.md) |",
        ]
    )


BLOCKS = {
    ("docs/settings.md", "settings-table"): render_settings,
    ("README.md", "headline-figures"): render_headline,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = ap.parse_args(argv)
    stale = []
    for (page, name), render in BLOCKS.items():
        text = render()
        if args.check:
            if read_block((ROOT / page).read_text(), name) != text:
                stale.append(f"{page} ({name})")
        else:
            write_block(ROOT / page, name, text)
    for s in stale:
        print(f"stale: {s}; run python -m tools.docs")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
