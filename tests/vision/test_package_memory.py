"""A package's decoded frames fit a pixel budget whatever it carries (issue 17's repro: 300 black
1920×1920 frames, a 13 MB package, grew the process by 4 GB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import io, json, resource
from datetime import UTC, datetime
import numpy as np
from PIL import Image
from facegate.core.package import LivenessPackage, Mode, PackageFrame
from facegate.vision.liveness.package_check import decode_frames

buf = io.BytesIO()
Image.fromarray(np.zeros((1920, 1920, 3), np.uint8)).save(buf, "JPEG", quality=90)
frame = buf.getvalue()
package = LivenessPackage("t", "1", "d", datetime.now(UTC), Mode.SILENT,
                          tuple(PackageFrame(frame, 100 * i) for i in range(300)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
frames = decode_frames(package)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "side": max(frames[0].pixels.shape[:2]),
                  "frames": len(frames), "package_mb": 300 * len(frame) / 1e6}))
"""


def test_300_large_frames_decode_within_the_pixel_budget() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, cwd=root
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["frames"] == 300
    assert out["side"] <= 600  # 60 × 1280² pixels shared by 300 frames: ≤ 572 px a side
    assert out["grew_mb"] < 1024, out
