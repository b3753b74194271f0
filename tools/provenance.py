"""What an artefact was made from: the code's commit, a digest of the data files it read and the
platform it ran on.

Recorded next to every generated artefact so that a later run can tell whether it would make the
same thing: same commit (a ``-dirty`` one promises nothing), same seed, same data digest, and for
the same bytes the same kind of CPU and library versions (``platform_info``).
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np


def _git(repo_root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo_root), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def git_commit(repo_root: Path) -> str:
    """``HEAD``'s hash, plus ``-dirty`` when the work tree differs from it (tracked changes or
    untracked files that are not ignored); ``unknown`` outside a git checkout."""
    try:
        head = _git(repo_root, "rev-parse", "HEAD")
        changes = _git(repo_root, "status", "--porcelain", "--untracked-files=normal")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if changes else "")


def data_digest(root: Path, relative_paths: Iterable[str]) -> str:
    """SHA-256 over the sorted relative paths and byte sizes of files under ``root``: it changes
    when a file is added, removed, renamed or resized (contents are not read, so that it stays
    cheap for thousands of files)."""
    h = hashlib.sha256()
    for rel in sorted(set(relative_paths)):
        h.update(f"{rel}\t{(root / rel).stat().st_size}\n".encode())
    return h.hexdigest()


def platform_info() -> dict[str, Any]:
    """The machine and the numeric libraries' code paths: NumPy and OpenCV pick SIMD kernels
    for the CPU they run on, and those round differently, so one commit, seed and data give
    the same bytes only on the same kind of CPU with the same library versions."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    simd = np.show_config(mode="dicts")["SIMD Extensions"]
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "numpy": np.__version__,
        "numpy_simd": simd["found"] or simd["baseline"],
        "opencv": cv2.__version__,
        "opencv_cpu": cv2.getCPUFeaturesLine(),
        "pyav": av.__version__,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
    }
