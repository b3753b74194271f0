"""Which runtime runs each model fastest on this CPU, and is the converted SFace the same model?

    python -m benchmarks.runtimes [--data ../shared/data] [--json benchmarks/results/runtimes.json]

* **speed**: milliseconds a call, one thread, median of ``--calls`` after a warm-up, on real
  inputs (LFW faces aligned as the service aligns them; a 640×480 webcam frame for YuNet):
  SFace on OpenCV (the wheel's int8 file), on OpenVINO and ONNX Runtime (the converted float32
  file), and MiniFASNet (when its pack is installed) on ONNX Runtime and OpenVINO. YuNet stays
  on OpenCV, whose ``FaceDetectorYN`` also decodes its outputs (priors, NMS): another runtime
  would mean rewriting that; its cost at the sizes the service uses is listed for scale.
* **equivalence** on all of LFW, through the server's pipeline: the cosine between each photo's
  embedding on OpenCV and on OpenVINO, and the 10-fold accuracy, TAR at FAR 1e-4 and the FAR at
  every calibrated threshold with each runtime (``benchmarks/verification.py``'s protocol).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.cli import parser
from facegate.settings import Settings
from facegate.vision.convert import OpenVinoNet, converted_bytes
from facegate.vision.manifest import load_manifest


def per_call_ms(fn: Callable[[], object], calls: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 2)


def ort_session(data: bytes | str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def speed(data: Path, calls: int) -> dict[str, Any]:
    cv2.setNumThreads(1)
    manifest = load_manifest()
    profile = manifest.profile("default")
    frame = cv2.imread(str(sorted((data / "nuaa" / "live").glob("*.jpg"))[0]))
    yunet = manifest.verified_path(profile.detector)
    out: dict[str, Any] = {"yunet_2023mar_int8bq": {}}
    for side in (320, 640):
        h, w = frame.shape[:2]
        s = side / max(h, w)
        small = cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        det = cv2.FaceDetectorYN.create(str(yunet), "", (small.shape[1], small.shape[0]), 0.6)
        out["yunet_2023mar_int8bq"][f"opencv at {side} px"] = per_call_ms(
            lambda det=det, small=small: det.detect(small), calls
        )

    sface_id = profile.embedders[0]
    sface = manifest.verified_path(sface_id)
    recognizer = cv2.FaceRecognizerSF.create(str(sface), "")
    face_photo = cv2.imread(str(sorted((data / "lfw").glob("*/*.jpg"))[0]))
    detector = cv2.FaceDetectorYN.create(str(yunet), "", (250, 250), 0.6)
    _, rows = detector.detect(face_photo)
    crop = recognizer.alignCrop(face_photo, rows[0])
    blob = np.asarray(cv2.dnn.blobFromImage(crop, 1.0, (112, 112), swapRB=True), np.float32)
    fp32 = converted_bytes(manifest, manifest.converted["sface_2021dec_fp32"], None)
    ov_net, ort_net = OpenVinoNet(fp32), ort_session(fp32)
    name = ort_net.get_inputs()[0].name
    out[sface_id] = {
        "opencv (wheel's int8 file)": per_call_ms(lambda: recognizer.feature(crop), calls),
        "openvino (converted float32)": per_call_ms(lambda: ov_net(blob), calls),
        "onnxruntime (converted float32)": per_call_ms(
            lambda: ort_net.run(None, {name: blob}), calls
        ),
    }

    from facegate.vision.liveness.minifasnet import INPUT_SIDE, V2_ID
    from facegate.vision.packs import packs_root

    try:
        path = manifest.locate(V2_ID, packs_root(None))
    except Exception:
        return out
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, INPUT_SIDE, INPUT_SIDE)).astype(np.float32)
    mini_ort = ort_session(str(path))
    mini_ov = OpenVinoNet(path.read_bytes())
    mini_name = mini_ort.get_inputs()[0].name
    out[V2_ID] = {
        "onnxruntime": per_call_ms(lambda: mini_ort.run(None, {mini_name: x}), calls),
        "openvino": per_call_ms(lambda: mini_ov(x), calls),
    }
    return out


def equivalence(data: Path) -> dict[str, Any]:
    from benchmarks.verification import run
    from tools.lfw_data import embed_lfw

    lfw = data / "lfw"
    embeddings = {
        rt: embed_lfw(lfw, "default", Settings(runtime=rt)) for rt in ("opencv", "openvino")
    }
    a, b = (embeddings[rt] for rt in ("opencv", "openvino"))
    both = a.found & b.found
    sface = "sface_2021dec_int8bq"
    cos = np.sum(a.vectors[sface][both] * b.vectors[sface][both], axis=1)
    out: dict[str, Any] = {
        "photos": int(both.sum()),
        "found_differs": int((a.found != b.found).sum()),
        # 1 − cosine: the cosines themselves all print as 1.000000.
        "one_minus_cosine": {
            "max": float(f"{1 - float(cos.min()):.2e}"),
            "p999": float(f"{1 - float(np.percentile(cos, 0.1)):.2e}"),
            "median": float(f"{1 - float(np.median(cos)):.2e}"),
        },
    }
    for rt in ("opencv", "openvino"):
        r: dict[str, Any] = run(lfw, "default", Settings(runtime=rt))
        out[rt] = {
            "accuracy": r["accuracy"],
            "tar_at_far_1e-4": r["tar_at_far"]["1e-4"],
            "far_at_threshold": r["far_at_threshold"],
        }
    return out


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count()},
        "speed_ms_one_thread": speed(args.data, args.calls),
        "lfw_equivalence": equivalence(args.data),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
