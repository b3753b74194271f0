"""Coverage-guided fuzzing of the parsers of attacker bytes, for a fixed budget per target
(``FACEGATE_FUZZ_SECONDS``: 10 in the suite, longer with ``make fuzz``). Each run is a separate
process (libFuzzer owns it); it must end without a finding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("FACEGATE_FUZZ_SECONDS", "10"))

pytest.importorskip("atheris", reason="atheris (the dev extra, Linux) runs the fuzz targets")


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_finds_nothing(name: str, tmp_path: Path) -> None:
    flags = [f"-max_total_time={SECONDS}", "-rss_limit_mb=2048", "-timeout=20",
             f"-artifact_prefix={tmp_path}/"]  # fmt: skip
    command = [sys.executable, "-m", "tests.fuzz.run", name, str(tmp_path / "corpus"), *flags]
    # Through a shell that forks it: a process exec'd straight from this one inherits its peak
    # resident size (Linux keeps ru_maxrss across exec), and libFuzzer's memory limit reads that
    # figure, so a test run that had grown to 3 GB would look like a leaking target.
    run = subprocess.run(
        ["sh", "-c", '"$@"; exit $?', "sh", *command],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120, check=False,
    )  # fmt: skip
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert not crashes, run.stderr[-4000:]
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done" in run.stderr, run.stderr[-2000:]  # libFuzzer's closing line: it really ran
