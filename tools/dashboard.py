"""The Grafana dashboard of deploy/grafana/facegate.json, from a list of panels.

    python -m tools.dashboard            # rewrite it
    python -m tools.dashboard --check    # exit 1 if the file differs from what this writes

Each panel is a title, a unit and PromQL on the metrics the code exports
(tests/deploy/test_observability.py checks every name against them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "facegate.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, unit, [(expr, legend)]); two panels a row.
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Requests by endpoint and code", "reqps", [
        ("sum by (endpoint, code) (rate(facegate_requests_total[5m]))", "{{endpoint}} {{code}}"),
    ]),
    ("Latency p50 / p99 by endpoint", "s", [
        ("histogram_quantile(0.5, sum by (le, endpoint) "
         "(rate(facegate_request_duration_seconds_bucket[5m])))", "p50 {{endpoint}}"),
        ("histogram_quantile(0.99, sum by (le, endpoint) "
         "(rate(facegate_request_duration_seconds_bucket[5m])))", "p99 {{endpoint}}"),
    ]),
    ("Time per stage, p50", "s", [
        ("histogram_quantile(0.5, sum by (le, stage) "
         "(rate(facegate_stage_duration_seconds_bucket[5m])))", "{{stage}}"),
    ]),
    ("In flight and queued", "short", [
        ("sum by (job) (facegate_requests_in_flight)", "in flight {{job}}"),
        ("sum(facegate_queue_depth)", "waiting in workers"),
    ]),
    ("Workers up", "short", [("facegate_worker_up", "{{worker}}")]),
    ("Calls to workers by outcome; retries; 503s", "reqps", [
        ("sum by (outcome) (rate(facegate_worker_requests_total[5m]))", "{{outcome}}"),
        ("sum by (reason) (rate(facegate_worker_retries_total[5m]))", "retry: {{reason}}"),
        ("sum(rate(facegate_worker_unavailable_total[5m]))", "503: no worker"),
    ]),
    ("Verification scores (share at or below each bound)", "percentunit", [
        ("sum by (le) (rate(facegate_verification_score_bucket[1h])) "
         "/ ignoring(le) group_left sum(rate(facegate_verification_score_count[1h]))", "≤ {{le}}"),
    ]),
    ("Liveness: checks passed and refusals by expert", "reqps", [
        ("sum by (call, passed) (rate(facegate_liveness_checks_total[5m]))",
         "{{call}} passed={{passed}}"),
        ("sum by (refused_by) (rate(facegate_liveness_refusals_total[5m]))",
         "refused by {{refused_by}}"),
    ]),
    ("Resident memory", "bytes", [
        ('process_resident_memory_bytes{job=~"facegate.*"}', "{{job}} {{instance}}"),
    ]),
    ("CPU", "percentunit", [
        ('rate(process_cpu_seconds_total{job=~"facegate.*"}[5m])', "{{job}} {{instance}}"),
    ]),
]  # fmt: skip


def dashboard() -> dict[str, Any]:
    panels = []
    for i, (title, unit, targets) in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": DS,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + k), "datasource": DS, "expr": e, "legendFormat": f}
                    for k, (e, f) in enumerate(targets)
                ],
            }
        )
    return {
        "title": "facegate",
        "uid": "facegate",
        "tags": ["facegate"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    if args.check:
        same = OUT.is_file() and OUT.read_text() == render()
        if not same:
            print(f"{OUT} is stale: run python -m tools.dashboard")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
