"""Memory you can size: a real ``facegate serve`` with one handler, given the worst admitted
photo pair, stays under the figure ``docs/reliability.md`` documents for one handler (the rule
of ``benchmarks/memory.py``, from ``benchmarks/results/memory.json``), and the Kubernetes
worker's memory limit covers that rule at its configured ``HANDLERS`` and queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.memory import VERIFY, Request, big_photo, documented_mb, measure, pair
from facegate.core.crypto import Cipher
from facegate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def rule() -> dict[str, Any]:
    report = json.loads((ROOT / "benchmarks" / "results" / "memory.json").read_text())
    r: dict[str, Any] = report["rule"]
    return r


def mebibytes(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_worker_memory_limit_covers_the_rule() -> None:
    config = yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]
    handlers = int(config["HANDLERS"])
    queue = int(config.get("FACEGATE_WORKER_QUEUE", 4 * handlers))
    deployment = yaml.safe_load((K8S / "worker-deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    limit = mebibytes(container["resources"]["limits"]["memory"])
    needed = documented_mb(rule(), handlers, queue)  # MiB, as the benchmark reads VmHWM
    assert limit >= needed, f"limit {limit:.0f} MiB < the rule's {needed:.0f} MiB"


@pytest.mark.models
@pytest.mark.data
def test_one_handler_stays_under_the_documented_figure(data_dir: Path, tmp_path: Path) -> None:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to read a process's peak memory")
    s = Settings()
    cipher = Cipher(s.decrypt_key, s.decrypt_iv)
    photo = cipher.encrypt(big_photo(data_dir, s.max_image_side, s.max_image_bytes))
    small = cipher.encrypt(big_photo(data_dir, 640, s.max_image_bytes))
    run = measure(
        Request(VERIFY, pair(photo, photo)), 1, 0, tmp_path, Request(VERIFY, pair(small, small))
    )
    assert run["statuses"] == [200]
    figure = documented_mb(rule(), 1, 0)
    assert max(run["peak_mb"], run["idle_peak_mb"]) <= figure, (run, figure)
