"""The docs' figures, drawn from the benchmarks' JSON when the site is built
(``tools/mkdocs_hooks.py`` calls ``render``): the DET curve of each profile with the manual's
thresholds marked, the calibrated score histograms of genuine and impostor pairs, and the
liveness trade-off (BPCER against APCER per attack type, out of sample)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from benchmarks.docblocks import RESULTS
from benchmarks.verification import load_results
from tools.far import THRESHOLDS

FIGURES = ("det.svg", "scores.svg", "liveness.svg")
LIVENESS = RESULTS / "liveness.json"


def det(results: dict[str, dict[str, Any]], out: Path) -> None:
    # The object API draws to files with no GUI backend and no global figure state.
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    for profile, r in results.items():
        d = r["score_distributions"]["det"]
        pts = [(f, n) for f, n in zip(d["fmr"], d["fnmr"], strict=True) if f > 0 and n > 0]
        (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], label=profile)
        for t in THRESHOLDS:
            i = d["score"].index(round(t, 2))
            if d["fmr"][i] > 0 and d["fnmr"][i] > 0:
                ax.plot(d["fmr"][i], d["fnmr"][i], "o", color=line.get_color(), markersize=4)
                if profile == next(iter(results)):
                    ax.annotate(f"{t:.1f}", (d["fmr"][i], d["fnmr"][i]), fontsize=8,
                                textcoords="offset points", xytext=(4, 4))  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("false match rate (impostor pairs accepted)")
    ax.set_ylabel("false non-match rate (genuine pairs refused)")
    ax.set_title("DET on LFW (dots: verification_score thresholds 0.4 … 0.9)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def scores(results: dict[str, dict[str, Any]], out: Path) -> None:
    fig = Figure(figsize=(4 * len(results), 3.6))
    axes = fig.subplots(1, len(results), sharey=True)
    for ax, (profile, r) in zip(axes, results.items(), strict=True):
        h = r["score_distributions"]["histogram"]
        edges = h["edges"]
        for kind in ("impostor", "genuine"):
            ax.stairs(h[kind], edges, label=f"{kind} pairs", fill=kind == "impostor", alpha=0.6)
        ax.set_yscale("log")
        ax.set_xlabel("verification_score")
        ax.set_title(profile)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("pairs")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def liveness(result: dict[str, Any], out: Path) -> None:
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    styles = {"print": "-", "replay": "--"}
    for label in ("default", "with_pack"):
        section = result.get(label, {})
        curve = section.get("tradeoff_loso")
        if not curve:
            continue
        color = None
        for kind, apcer in curve["apcer"].items():
            (line,) = ax.plot(apcer, curve["bpcer"], styles.get(kind, ":"), color=color,
                              label=f"{label.replace('_', ' ')}: {kind}")  # fmt: skip
            color = line.get_color()
            # The shipped threshold, on this out-of-sample curve.
            i = int(np.searchsorted(curve["threshold"], section["threshold"]))
            i = min(i, len(curve["threshold"]) - 1)
            ax.plot(apcer[i], curve["bpcer"][i], "o", color=color, markersize=5)
    ax.set_xlabel("APCER (attacks accepted)")
    ax.set_ylabel("BPCER (live customers refused)")
    ax.set_title("Silent liveness, leave-one-source-out (dots: the shipped threshold)")
    ax.set_xlim(0, 0.5)  # past half the attacks accepted, nothing is left to compare
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def render(out_dir: Path) -> list[Path]:
    results = load_results()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in FIGURES]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, smaller
        det(results, paths[0])
        scores(results, paths[1])
        liveness(json.loads(LIVENESS.read_text()), paths[2])
    return paths
