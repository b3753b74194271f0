"""The hash-locked installs: ``requirements/*.txt`` (``make lock``) hold every requirement of
``pyproject.toml`` at a version it allows, each with its files' sha256, and the environment the
tests run in holds exactly those versions."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
# Lines of a locked file: "name==version \" then "    --hash=sha256:…" lines.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")
# The lock is for Python 3.11 on Linux (make lock), where CI and the image run.
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
               "platform_system": "Linux", "os_name": "posix"}  # fmt: skip


def locked(name: str) -> dict[str, str]:
    """Package → version in ``requirements/<name>.txt``, checking each pin carries hashes."""
    pins: dict[str, str] = {}
    current: str | None = None
    hashes: dict[str, int] = {}
    for line in (LOCKS / f"{name}.txt").read_text().splitlines():
        if m := PIN.match(line):
            current = canonicalize_name(m.group(1))
            pins[current] = m.group(2)
            hashes[current] = 0
        elif HASH.match(line) and current is not None:
            hashes[current] += 1
    unhashed = [p for p, n in hashes.items() if n == 0]
    assert not unhashed, f"pins without a sha256 in {name}.txt: {unhashed}"
    return pins


def requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        out += [Requirement(r) for r in project["optional-dependencies"][extra]]
    build = (LOCKS / "build.in").read_text().splitlines()
    out += [Requirement(r) for r in build if r.strip() and not r.startswith("#")]
    return [r for r in out if r.name != "facegate"]


@pytest.mark.parametrize(("lock", "extras"), [("server", ("server",)), ("dev", ("server", "dev"))])
def test_every_requirement_is_locked_at_a_version_pyproject_allows(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(lock)
    for req in requirements(*extras):
        if req.marker is not None and not req.marker.evaluate(ENVIRONMENT):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in requirements/{lock}.txt: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements/{lock}.txt pins {name}=={pins[name]}, outside {req}: run make lock"
        )


def test_the_image_runs_the_versions_the_tests_run() -> None:
    server, dev = locked("server"), locked("dev")
    assert {p: dev.get(p) for p in server} == server


def test_this_environment_holds_the_locked_versions() -> None:
    # Packages beyond the lock are not refused: `make bench-latency` adds the face_recognition
    # peer to the same environment. `make install` itself installs with --no-deps: the lock and
    # facegate, nothing resolved on the way.
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a virtual environment made by make install")
    pins = locked("dev")
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    wrong = {p: (v, installed.get(p)) for p, v in pins.items() if installed.get(p) != v}
    assert not wrong, f"locked version, installed version: {wrong} (run make install)"
