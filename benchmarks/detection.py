"""Does coarse-to-fine detection find what the full-size pass finds? Recall and landmarks of the
1:1 endpoints' ``detect_main`` against ``detect`` at ``detect_max_side`` (before issue 18, every
photo's only pass), photo by photo.

    python -m benchmarks.detection [--data ../shared/data] [--n 300] [--json OUT.json]

Per image set (``benchmarks/imagesets.py``; both photos of every pair, plus LFW and MSU):

* ``found``: photos where each finds a face (the full pass / coarse-to-fine);
* ``lost``: photos where the full pass finds a face and coarse-to-fine finds none;
* ``other_face``: both find one, but not the same (IoU < 0.5) — for the 1:1 endpoints that is
  a different person compared;
* ``truth_hits``: where the set knows the face's box (the pasted scenes), photos whose main
  face overlaps it (IoU ≥ 0.3), for each;
* landmark distance to the full pass's, in face widths (median, 95th percentile), and the
  cosine between the embeddings of the two (1st percentile, minimum): what the comparison
  score sees of the difference;
* which passes ran (coarse only, coarse + refine, coarse + full);
* the set's pairs scored both ways: median genuine score, and genuine / impostor pairs accepted
  at thresholds 0.5, 0.6 and 0.7. Landmarks move between any two detection sizes (at 480 px as
  much as at 320), so this, not the landmark distance, says whether comparisons change.

The listing endpoints (multi-face 1.2, quality) still detect at full size only, so their recall
is today's by construction.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import cv2
import numpy as np

from benchmarks.cli import parser
from facegate.core.types import Face, ImageArray
from facegate.settings import Settings
from facegate.vision.pipeline import FacePipeline, PipelineOptions


def _read(path: Path) -> ImageArray | None:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if img is None else np.asarray(img, dtype=np.uint8)


def compare(
    pipe: FacePipeline,
    photos: list[tuple[Path, tuple[int, int, int, int] | None]],
    pairs: list[tuple[Path, Path, bool]],
) -> dict[str, Any]:
    from facegate.core.errors import ImageError
    from facegate.core.types import Box

    found_full = found_c2f = lost = gained = other = truth_full = truth_c2f = truth_n = 0
    errors: list[float] = []
    cosines: list[float] = []
    passes: dict[str, int] = {}
    templates: dict[Path, tuple[Any, Any]] = {}  # photo → (full pass, coarse to fine)
    detect = pipe.detector.detect
    for path, truth in photos:
        pixels = _read(path)
        if pixels is None:
            continue
        oriented = pipe.detect(pixels)
        full = pipe.main_face(oriented, "image") if oriented.faces else None
        sides: list[int | None] = []

        def counted(image: ImageArray, max_side: int | None = None) -> list[Face]:
            sides.append(max_side)  # noqa: B023 — read right after this photo's call
            return detect(image, max_side)

        c2f: Face | None
        try:
            with mock.patch.object(pipe.detector, "detect", counted):
                _, c2f = pipe.detect_main(pixels, "image")
        except ImageError:
            c2f = None
        kind = (
            "coarse + full" if None in sides else "coarse + refine" if len(sides) > 1 else "coarse"
        )
        passes[kind] = passes.get(kind, 0) + 1
        found_full += full is not None
        found_c2f += c2f is not None
        lost += full is not None and c2f is None
        gained += full is None and c2f is not None
        if truth is not None:
            box = Box(*map(float, truth))
            truth_n += 1
            truth_full += full is not None and full.box.iou(box) >= 0.3
            truth_c2f += c2f is not None and c2f.box.iou(box) >= 0.3
        if full is None or c2f is None:
            continue
        if c2f.box.iou(full.box) < 0.5:
            other += 1
            continue
        width = max(full.box.width, 1.0)
        errors.append(float(np.linalg.norm(c2f.landmarks - full.landmarks, axis=1).mean() / width))
        a, b = pipe.embed(pixels, c2f), pipe.embed(pixels, full)
        templates[path] = (b, a)
        cosines.append(float(a[0] @ b[0]))
    return {
        "photos": len(photos),
        "found_full": found_full,
        "found_coarse_to_fine": found_c2f,
        "lost": lost,
        "gained": gained,
        "other_face": other,
        "truth": {"photos": truth_n, "hits_full": truth_full, "hits_coarse_to_fine": truth_c2f}
        if truth_n
        else None,
        "landmark_error_face_widths": {
            "median": round(float(np.median(errors)), 4) if errors else None,
            "p95": round(float(np.percentile(errors, 95)), 4) if errors else None,
        },
        "embedding_cosine": {
            "p01": round(float(np.percentile(cosines, 1)), 4) if cosines else None,
            "min": round(float(np.min(cosines)), 4) if cosines else None,
        },
        "passes": passes,
        "verification": verification(pipe, templates, pairs),
    }


def verification(
    pipe: FacePipeline, templates: dict[Path, tuple[Any, Any]], pairs: list[tuple[Path, Path, bool]]
) -> dict[str, Any] | None:
    """The set's pairs scored as the service scores them, with each photo's face from the full
    pass and from coarse to fine: does the comparison change, not only the landmarks?"""
    usable = [(a, b, same) for a, b, same in pairs if a in templates and b in templates]
    if not usable:
        return None
    out: dict[str, Any] = {"genuine_pairs": sum(s for *_, s in usable)}
    out["impostor_pairs"] = len(usable) - out["genuine_pairs"]
    for k, name in enumerate(("full", "coarse_to_fine")):
        scores = np.array(
            [pipe.score(pipe.similarity(templates[a][k], templates[b][k])) for a, b, _ in usable]
        )
        same = np.array([s for *_, s in usable])
        out[name] = {
            "genuine_median": round(float(np.median(scores[same])), 4) if same.any() else None,
            **{
                f"accepted_at_{t}": [
                    int((scores[same] >= t).sum()),
                    int((scores[~same] >= t).sum()),
                ]
                for t in (0.5, 0.6, 0.7)
            },
        }
    return out


def photo_lists(data: Path, n: int, tmp: Path) -> dict[str, tuple[str, list[Any], list[Any]]]:
    from benchmarks.imagesets import build_sets

    out: dict[str, tuple[str, list[Any], list[Any]]] = {}
    for image_set in build_sets(data, tmp, n // 2):
        photos = {p.path: p.face for pair in image_set.pairs for p in pair}
        pairs = [(a.path, b.path, a.person == b.person) for a, b in image_set.pairs]
        out[image_set.name] = (image_set.description, list(photos.items()), pairs)
    rng = np.random.default_rng(0)
    lfw = sorted((data / "lfw").glob("*/*.jpg"))
    picked = [lfw[i] for i in sorted(rng.choice(len(lfw), min(n, len(lfw)), replace=False))]
    out["lfw"] = ("LFW, 250×250 (the calibration's photos)", [(p, None) for p in picked], [])
    msu = sorted((data / "msu").glob("*/*.jpg"))
    out["msu"] = (
        "MSU-MFSD first frames, 720×480, live and attacks",
        [(p, None) for p in msu],
        [],
    )
    return out


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=300, help="photos per set (about)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    settings = Settings()
    cv2.setNumThreads(1)
    pipe = FacePipeline(
        PipelineOptions(
            detect_max_side=settings.detect_max_side,
            detect_coarse_side=settings.detect_coarse_side,
            detect_min_score=settings.detect_min_score,
            runtime=settings.runtime,
            with_quality=False,
        )
    )
    result: dict[str, Any] = {
        "detect_max_side": settings.detect_max_side,
        "detect_coarse_side": settings.detect_coarse_side,
        "sets": {},
    }
    with tempfile.TemporaryDirectory(prefix="facegate-detection-") as tmp:
        for name, (description, photos, pairs) in photo_lists(args.data, args.n, Path(tmp)).items():
            r = {"description": description, **compare(pipe, photos, pairs)}
            result["sets"][name] = r
            print(
                f"{name:8} {r['photos']:4} photos: found {r['found_full']} / "
                f"{r['found_coarse_to_fine']} (full / coarse-to-fine), lost {r['lost']}, "
                f"other face {r['other_face']}, landmarks {r['landmark_error_face_widths']}, "
                f"cosine {r['embedding_cosine']}, truth {r['truth']}, passes {r['passes']}, "
                f"verification {r['verification']}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
