"""Blocks of the documentation made from the code rather than typed: the settings reference
(from the ``Settings`` model: names, types, defaults, bounds and each field's docstring), the
README's headline figures and the figures quoted in the docs' prose (from
``benchmarks/results/*.json``).

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


def _json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RESULTS / name).read_text())
    return data


def render_profiles() -> str:
    """The accurate profile against the default, on LFW."""
    d, a = _json("verification-default.json"), _json("verification-accurate.json")
    ld, la = _json("latency-default.json"), _json("latency-accurate.json")
    ratio = la["facegate"]["concurrency_1"]["p50_ms"] / ld["facegate"]["concurrency_1"]["p50_ms"]
    return (
        f"It is more accurate ({100 * a['accuracy']:.2f} % vs {100 * d['accuracy']:.2f} % "
        f"10-fold, TAR {_pct(a['tar_at_far']['1e-4'])} vs {_pct(d['tar_at_far']['1e-4'])} at "
        f"10⁻⁴) at {ratio:.1f} times the median latency of a 640×480 pair."
    )


def render_package_speed() -> str:
    p = _json("latency-default.json")["liveness_package"]
    one = p["concurrency_1"]
    return (
        f"A {p['frames_per_package']}-frame package ({p['package_kib_mean']:.0f} KiB on "
        f"average) plus a photo, over HTTP: p50 {one['p50_ms']:.0f} ms, p99 "
        f"{one['p99_ms']:.0f} ms on the 2 cores, {one['failures']} failures in "
        f"{one['requests']} requests over {len(p['clips'])} clips."
    )


def render_sizing() -> str:
    load, lat = _json("load.json"), _json("latency-default.json")
    ip, ww = load["inprocess"], load["with_workers"]
    per_core = 1000 / ip["cpu_ms_per_request"]["api"]
    webcam = lat["facegate"]["concurrency_4"]["throughput_rps"]
    cores = lat["machine"]["cpus"]
    api_ms = ww["cpu_ms_per_request"]["api"]
    return (
        f"**Sizing rule.** Worker cores ≈ peak verifications per second ÷ {per_core:.0f} for "
        f"250×250 photos (1000 ms ÷ {ip['cpu_ms_per_request']['api']:.0f} ms of CPU per request, "
        f"above). For 640×480 webcam photos use ÷ {webcam / cores:.0f}: the [Speed](speed.md) "
        f"table gives {webcam:.1f} requests/s on {cores} cores. The API tier needs about one core "
        f"per {1000 / api_ms:.0f} requests/s ({api_ms:.1f} ms each)."
    )


def render_session_luck() -> str:
    """How often a recording passes interactive sessions (benchmarks/sessions.py)."""
    r = _json("sessions.json")
    rows = [
        "**In-sample**: the development clips, which the rule was chosen looking at (no constant "
        "fitted); people and cameras not here are not measured.",
        "",
        "| actions | sessions | passed by a recording | at most (95 %) |",
        "|---|---|---|---|",
    ]
    for n, a in r["by_actions"].items():
        note = "" if int(n) >= r["min_actions"] else " (refused: too few)"
        rows.append(
            f"| {n}{note} | {a['sessions']} | {a['passed']} ({_pct(a['rate'])}) "
            f"| {_pct(a['upper95'])} |"
        )
    kinds = ", ".join(
        f"{k} {v['passed']}/{v['sessions']}" for k, v in r["one_action_by_kind"].items()
    )
    own = r["own_movements"]
    delays = "/".join(str(d) for d in own["delays_ms"])
    rows += [
        "",
        f"One action, by kind: {kinds}. {len(r['clips'])} clips, {r['prompt_seconds']:g} s "
        f"per prompt, reaction time {r['reaction_ms']} ms.",
        "",
        f"The clips' own movements with a prompt {delays} ms before them: {own['accepted']} of "
        f"{own['tried']} accepted ({_pct(own['accepted'] / own['tried'])}).",
    ]
    return "\n".join(rows)


def render_memory_rule() -> str:
    """Peak memory under the worst admitted inputs and the rule (benchmarks/memory.py)."""
    r = _json("memory.json")
    rule = r["rule"]
    d = rule["documented"]
    rows = [
        "| endpoint (worst admitted input) | peak, 1 handler | peak, 2 handlers | per handler |",
        "|---|---|---|---|",
    ]
    for name, runs in r["runs"].items():
        one, two = (next(x for x in runs if x["handlers"] == h) for h in (1, 2))
        rows.append(
            f"| {name} | {one['peak_mb']:.0f} MiB | {two['peak_mb']:.0f} MiB "
            f"| {rule['per_request_mb'][name]:.0f} MiB |"
        )
    rows += [
        "",
        f"Idle (models loaded, one small request served): {rule['idle_mb']:.0f} MiB. "
        "With the queue "
        f"full of the largest body ({r['largest_body_mb']:.1f} MiB): "
        + ", ".join(
            f"{q['handlers']} handler(s) + {q['queue']} waiting: {q['peak_mb']:.0f} MiB"
            for q in r["queued"]
        )
        + f". Measured {r['when'][:10]} on {r['machine']}.",
        "",
        f"**Rule** (each term measured, plus 15 %, rounded up): peak ≤ {d['idle_mb']} MiB + "
        f"HANDLERS × {d['per_handler_mb']} MiB + FACEGATE_WORKER_QUEUE × {d['per_queued_mb']} MiB.",
    ]
    return "\n".join(rows)


def render_session_cost() -> str:
    """What a capture session costs the server (benchmarks/session_cost.py)."""
    r = _json("session_cost.json")
    rows = [
        "| mode | sessions at once | CPU per second of streaming | decision CPU per session "
        "| last frame → result (median, max) |",
        "|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        wait = run["last_frame_to_result_s"]
        waited = f"{wait['median']:.2f} s, {wait['max']:.2f} s" if wait else "—"
        rows.append(
            f"| {run['mode']} | {run['sessions']} | {run['stream_cpu_s_per_s']:.3f} s "
            f"| {run['decision_cpu_s']:.2f} s | {waited} |"
        )
    per_core = ", ".join(f"{m}: {n:g}" for m, n in r["streams_per_core"].items())
    whole = ", ".join(
        f"{run['mode']} {run['session_cpu_s']:.1f} CPU-s (≈ {60 / run['session_cpu_s']:.0f} "
        "per core-minute)"
        for run in r["runs"]
        if run["sessions"] == 1
    )
    rows += [
        "",
        f"Streams one core carries at once (frames checked, guidance looks; the decision apart): "
        f"{per_core}. A whole session, streaming and decision: {whole}. Clip `{r['clip']}`; "
        f"measured {r['when'][:10]} on {r['machine']}.",
    ]
    return "\n".join(rows)


def render_image_sets() -> str:
    """The service beside its own models called directly, per image set
    (``benchmarks/latency.py --only ratio``)."""
    r = _json("latency-sets.json")
    rows = [
        "| photos | concurrency | service p50 | bare models p50 | ratio "
        "| service pairs/s | bare pairs/s |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, section in r["sets"].items():
        service, bare = section["facegate"], section["bare_models"]
        for key in (k for k in service if k.startswith("concurrency_")):
            s, b = service[key], bare[key]
            rows.append(
                f"| {name} | {key.split('_')[1]} | {s['p50_ms']:.1f} ms | {b['p50_ms']:.1f} ms "
                f"| {s['p50_ms'] / b['p50_ms']:.2f}× | {s['throughput_rps']:.1f} "
                f"| {b['throughput_rps']:.1f} |"
            )
        stages = ", ".join(f"{k} {v:.1f}" for k, v in service["stages_ms_at_1"].items())
        notes.append(f"- **{name}**: {section['photos']}. Stages at concurrency 1 (ms, both "
                     f"photos summed): {stages}.")  # fmt: skip
    runtime = next(iter(r["sets"].values()))["bare_models"]["embedder_runtime"]
    rows += [
        "",
        *notes,
        "",
        f"One run, {r['machine']['cpus']} CPUs, the same pairs for both; the bare models detect "
        f"once at {r['detect_coarse_side']} px and embed on `{runtime}`, as the service does.",
    ]
    return "\n".join(rows)


def render_video_paths() -> str:
    """3 s clips through 3.1 and 1.4 over HTTP (``benchmarks/latency.py --only video``)."""
    r = _json("latency-video.json")["video"]
    rows = ["| endpoint | without the pack p50 / p99 | with the pack p50 / p99 |", "|---|---|---|"]
    for path in r["without_pack"]:
        cells = [
            f"{r[k][path]['p50_ms']:.0f} / {r[k][path]['p99_ms']:.0f} ms (passed "
            f"{r[k][path]['passed']})"
            if k in r
            else "pack not installed"
            for k in ("without_pack", "with_pack")
        ]
        rows.append(f"| {path} | {cells[0]} | {cells[1]} |")
    rows += [
        "",
        f"{len(r['clips'])} clips: the first 3 s of each, 640×480 H.264, one at a time. The "
        "pass counts are in-sample (these are development clips the liveness fusion was fitted "
        "on); they only show every timed request ran the whole check.",
    ]
    return "\n".join(rows)


def render_runtimes() -> str:
    """Milliseconds a call per model and runtime, and the LFW equivalence
    (``benchmarks/runtimes.py``)."""
    r = _json("runtimes.json")
    rows = ["| model | runtime | ms a call, one thread |", "|---|---|---|"]
    for model, runs in r["speed_ms_one_thread"].items():
        rows += [f"| `{model}` | {rt} | {ms:.1f} |" for rt, ms in runs.items()]
    e = r["lfw_equivalence"]
    ov, cv = e["openvino"], e["opencv"]
    rows += [
        "",
        "In-sample: LFW is the data the calibration was fitted on, so these show only that the "
        "two runtimes give the same figures, not what unseen people will see (held-out figures: "
        "[Accuracy](accuracy.md)). "
        f"On all {e['photos']} LFW photos, 1 − cosine between the OpenCV and OpenVINO "
        f"embeddings: at most {e['one_minus_cosine']['max']:.1e}. 10-fold accuracy "
        f"{100 * cv['accuracy']:.2f} % (OpenCV) / {100 * ov['accuracy']:.2f} % (OpenVINO); TAR "
        f"at FAR 1e-4 {100 * cv['tar_at_far_1e-4']:.2f} % / {100 * ov['tar_at_far_1e-4']:.2f} %; "
        "FAR at the calibrated thresholds "
        + ", ".join(
            f"{t}: {cv['far_at_threshold'][t]:.2e} / {ov['far_at_threshold'][t]:.2e}"
            for t in cv["far_at_threshold"]
        )
        + ".",
    ]
    return "\n".join(rows)


def render_detection() -> str:
    """Coarse-to-fine detection against the full-size pass (``benchmarks/detection.py``)."""
    r = _json("detection.json")
    rows = [
        "| photos | n | faces found (full / coarse-to-fine) | lost | other face | "
        "on the true face | passes | accepted at 0.6: genuine, impostor (full / coarse-to-fine) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["sets"].items():
        truth = s["truth"]
        on_truth = (
            f"{truth['hits_full']} / {truth['hits_coarse_to_fine']} of {truth['photos']}"
            if truth
            else "–"
        )
        passes = ", ".join(f"{k} {v}" for k, v in s["passes"].items())
        v = s["verification"]
        accepted = (
            " / ".join(
                "{} of {}, {} of {}".format(
                    v[way]["accepted_at_0.6"][0],
                    v["genuine_pairs"],
                    v[way]["accepted_at_0.6"][1],
                    v["impostor_pairs"],
                )
                for way in ("full", "coarse_to_fine")
            )
            if v
            else "–"
        )
        rows.append(
            f"| {name} | {s['photos']} | {s['found_full']} / {s['found_coarse_to_fine']} "
            f"| {s['lost']} | {s['other_face']} | {on_truth} | {passes} | {accepted} |"
        )
    rows += [
        "",
        "The last column compares the two detections on the same pairs at a calibrated "
        "threshold; LFW faces (the scene set) are the calibration's own data, so it is an "
        "in-sample equivalence check, not an accuracy figure.",
    ]
    return "\n".join(rows)


BLOCKS = {
    ("docs/settings.md", "settings-table"): render_settings,
    ("README.md", "headline-figures"): render_headline,
    ("docs/models.md", "profile-comparison"): render_profiles,
    ("docs/packages.md", "package-speed"): render_package_speed,
    ("docs/scale.md", "sizing-rule"): render_sizing,
    ("docs/sessions.md", "session-luck"): render_session_luck,
    ("docs/reliability.md", "memory-rule"): render_memory_rule,
    ("docs/sessions.md", "session-cost"): render_session_cost,
    ("docs/speed.md", "image-sets"): render_image_sets,
    ("docs/speed.md", "video-paths"): render_video_paths,
    ("docs/speed.md", "runtimes"): render_runtimes,
    ("docs/speed.md", "detection"): render_detection,
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
