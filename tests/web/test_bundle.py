"""The web SDK's committed bundle (src/facegate/api/static/capture, served without Node) is what
`make web` builds from web/ with the locked npm packages, and stays small."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "src" / "facegate" / "api" / "static" / "capture"


def test_the_sdk_bundle_is_small() -> None:
    sdk = (BUILT / "facegate-capture.js").read_bytes()
    assert len(gzip.compress(sdk)) < 100 * 1024


def test_the_committed_bundle_is_a_fresh_build(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (Debian: nodejs npm); the bundle cannot be rebuilt")
    web = tmp_path / "web"
    shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "src" / "facegate" / "api" / "static" / "capture"
    out.mkdir(parents=True)
    for step in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        done = subprocess.run(step, cwd=web, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(p.name for p in out.iterdir())
    assert built == sorted(p.name for p in BUILT.iterdir())
    for name in built:
        assert (out / name).read_bytes() == (BUILT / name).read_bytes(), (
            f"{name} differs from a fresh build: run `make web` and commit the result"
        )
