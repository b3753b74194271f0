"""The Grafana dashboard and the Prometheus alert rules in deploy/ only name metrics the code
exports, and are well formed (so they do not silently show nothing, or never fire)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.metrics_core import Metric

from facegate.ops.metrics import Metrics
from tools import dashboard

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Series Prometheus adds to every scrape target itself.
SCRAPE_SERIES = {"up"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def exported_series() -> set[str]:
    names: set[str] = set()
    for tier in ("api", "worker"):
        families: list[Metric] = list(Metrics(tier).registry.collect())
        for family in families:
            for suffix in SUFFIXES.get(family.type, ("",)):
                names.add(family.name + suffix)
    return names


def series_in(expr: str) -> set[str]:
    # A metric name is an identifier not followed by "(" (a function) and not a label name.
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", without_ranges))
    keywords = {"sum", "by", "le", "ignoring", "group_left", "offset", "and", "or", "on"}
    labels = {"endpoint", "code", "stage", "job", "instance", "call", "passed", "outcome",
              "reason", "refused_by", "worker"}  # fmt: skip
    return {n for n in names if n not in keywords | labels and not n.isdigit()}


def test_alert_rules_are_well_formed_and_name_exported_metrics() -> None:
    exported = exported_series() | SCRAPE_SERIES
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    assert len({a["alert"] for a in alerts}) == len(alerts)
    for a in alerts:
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, a["alert"]
        assert a["annotations"]["summary"], a["alert"]
        assert a["annotations"]["description"], a["alert"]
        assert re.fullmatch(r"\d+[smh]", a["for"]), a["alert"]
        named = series_in(a["expr"])
        assert named, a["alert"]
        assert named <= exported, (a["alert"], named - exported)


def test_dashboard_is_generated_and_names_exported_metrics() -> None:
    assert dashboard.main(["--check"]) == 0
    board = json.loads((DEPLOY / "grafana" / "facegate.json").read_text())
    exported = exported_series()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            named = series_in(target["expr"])
            assert named, (panel["title"], target["expr"])
            assert named <= exported, (panel["title"], named - exported)


def test_the_check_catches_a_misspelt_metric() -> None:
    assert series_in("sum(rate(facegate_request_total[5m]))") == {"facegate_request_total"}
    assert "facegate_request_total" not in exported_series()  # the real one is _requests_
