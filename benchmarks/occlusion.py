"""Occlusion estimator on held-out LFW persons with synthetic occluders.

    python -m benchmarks.occlusion --data /work/shared/data/lfw --json OUT.json [--doc PAGE]

``--doc`` rewrites the page's ``occlusion-tables`` block from the results (a test checks that the
committed page and ``benchmarks/results/occlusion.json`` agree).

Only the TEST persons of ``train_occlusion.person_split`` are used (never trained or tuned on);
occluder textures and hand colours come from those persons' photos too. Every photo gives one
sample of each kind, made exactly as the training samples are (occluder drawn in the template
frame, warped into the original photo, photo degraded, YuNet run again, face aligned on the new
landmarks), except ``clean_original``: the photo as it is.

Reported, per region (``left_eye`` = the subject's left eye, on the image's right):

* ``false_occlusion``: share of unoccluded regions (< 30 % covered) of clean faces scored < 0.5,
  for the untouched photos (``clean_original``), degraded photos (``clean``), clear eyeglasses
  and near-miss occluders (``partial``); and ``false_4004``: share of those faces with ANY
  region < 0.5 — a clean face the API would refuse with 4004;
* per occluder kind: ``detected``: share of regions ≥ 50 % covered that score < 0.5 (and of those
  ≥ 70 % covered, ``detected_clear``, since half-covered boxes are ambiguous); ``auc``: ROC
  AUC of those regions against the same region on clean faces; ``collateral``: share of the
  kind's regions < 30 % covered (e.g. the eyes above a mask) scored < 0.5;
* over all samples: accuracy at 0.5 (region occluded iff ≥ 50 % covered) and ROC AUC.

``real``: the test persons' photos with REAL occluders (sunglasses, a microphone), labelled by
hand (``train_occlusion.REAL_OCCLUSIONS``): few, but the check on the synthetic-to-real gap.

Kinds the model was not trained on (``holdout_kinds`` in its metadata; by default scarves) are
flagged, so their rows show generalisation to an unseen occluder. Faces YuNet loses after the
occluder is drawn (the API would answer "no face") are counted per kind and left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

import tools.train_occlusion as gen
from benchmarks.docblocks import write_block
from facegate.vision.align import align_face
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.quality.occlusion import REGIONS, OcclusionModel

CLEAN_KINDS = ("clean_original", "clean", "eyeglasses", "partial")
PLAN = {k: 1.0 for k in (*CLEAN_KINDS, *gen.OCCLUDER_KINDS)}
VISIBLE_BELOW = 0.3  # a region this little covered is "unoccluded" for false-occlusion rates
CLEARLY_COVERED = 0.7  # also reported: detection of regions at least this much covered


def roc_auc(pos: npt.NDArray[np.float64], neg: npt.NDArray[np.float64]) -> float | None:
    """P(score of a positive > score of a negative), ties counting half (Mann–Whitney)."""
    if len(pos) == 0 or len(neg) == 0:
        return None
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def rate(mask: npt.NDArray[np.bool_]) -> float | None:
    return float(mask.mean()) if mask.size else None


def default_model() -> Path:
    ref = resources.files("facegate.vision.quality").joinpath(f"{OcclusionModel.id}.npz")
    return Path(str(ref))


def evaluate(model: OcclusionModel, ds: gen.Dataset) -> dict[str, Any]:
    vis = model.visible_batch(ds.x)
    occluded_pred = vis < 0.5
    cov = ds.coverage
    kinds = np.array(ds.kinds)
    truth = cov >= gen.OCCLUDED_AT
    unoccluded = cov < VISIBLE_BELOW
    holdout = set(model.meta.get("holdout_kinds", []))
    out: dict[str, Any] = {"regions": {}, "kinds": {}, "faces": {}}

    clean_any = np.isin(kinds, ("clean_original", "clean"))
    for r, name in enumerate(REGIONS):
        reg: dict[str, Any] = {
            "accuracy": float((occluded_pred[:, r] == truth[:, r]).mean()),
            "auc": roc_auc(1 - vis[truth[:, r], r], 1 - vis[~truth[:, r], r]),
            "n_occluded": int(truth[:, r].sum()),
            "detected": rate(occluded_pred[truth[:, r], r]),
            "false_occlusion": {},
            "detected_by_kind": {},
            "n_occluded_by_kind": {},
            "detected_clear_by_kind": {},
            "auc_by_kind": {},
            "collateral_by_kind": {},
        }
        for k in CLEAN_KINDS:
            sel = (kinds == k) & unoccluded[:, r]
            reg["false_occlusion"][k] = rate(occluded_pred[sel, r])
        for k in gen.OCCLUDER_KINDS:
            pos = (kinds == k) & truth[:, r]
            neg = clean_any & unoccluded[:, r]
            reg["detected_by_kind"][k] = rate(occluded_pred[pos, r])
            reg["n_occluded_by_kind"][k] = int(pos.sum())
            clear = (kinds == k) & (cov[:, r] >= CLEARLY_COVERED)
            reg["detected_clear_by_kind"][k] = rate(occluded_pred[clear, r])
            reg["auc_by_kind"][k] = roc_auc(1 - vis[pos, r], 1 - vis[neg, r])
            reg["collateral_by_kind"][k] = rate(occluded_pred[(kinds == k) & unoccluded[:, r], r])
        out["regions"][name] = reg

    any_pred = np.asarray(occluded_pred.any(axis=1), bool)
    any_truth = np.asarray(truth.any(axis=1), bool)
    for k in PLAN:
        sel = kinds == k
        lost, total = ds.lost.get(k, [0, 0])
        entry: dict[str, Any] = {
            "samples": int(sel.sum()),
            "lost_faces": lost,
            "attempted": total,
            "heldout_kind": k in holdout,
        }
        if k in CLEAN_KINDS:
            clean_faces = sel & ~np.asarray((cov >= VISIBLE_BELOW).any(axis=1), bool)
            entry["false_4004"] = rate(any_pred[clean_faces])
        else:
            entry["face_4004_when_occluded"] = rate(any_pred[sel & any_truth])
            entry["regions_occluded"] = int(truth[sel].sum())
            variants: dict[str, dict[str, Any]] = {}
            for v in sorted({ds.variants[i] for i in np.flatnonzero(sel)}):
                vs = sel & (np.array(ds.variants) == v)
                variants[v] = {
                    "samples": int(vs.sum()),
                    "detected": rate(occluded_pred[vs][truth[vs]]),
                    "face_4004": rate(any_pred[vs & any_truth]),
                }
            entry["variants"] = variants
        out["kinds"][k] = entry

    # Real occluders of test persons (hand-labelled, see train_occlusion.REAL_OCCLUSIONS).
    real = np.array([gen.real_coverage(src) is not None for src in ds.sources], bool)
    out["real"] = {}
    for k in ("clean_original", "clean"):
        sel = real & (kinds == k)
        out["real"][k] = {
            "faces": int(sel.sum()),
            "face_4004": rate(any_pred[sel & any_truth]),
            "detected": {
                n: rate(occluded_pred[sel & truth[:, r], r]) for r, n in enumerate(REGIONS)
            },
            "occluded_regions": {n: int((sel & truth[:, r]).sum()) for r, n in enumerate(REGIONS)},
            "files": [
                {
                    "file": ds.sources[i],
                    "visible": dict(zip(REGIONS, vis[i].round(3).tolist(), strict=True)),
                }
                for i in np.flatnonzero(sel)
            ],
        }

    out["overall"] = {
        "accuracy": float((occluded_pred == truth).mean()),
        "auc": roc_auc(1 - vis[truth], 1 - vis[~truth]),
        "false_4004_clean_original": out["kinds"]["clean_original"]["false_4004"],
    }
    # The clean photos the model flags: worth a look (LFW has real sunglasses and hands).
    orig = np.flatnonzero((kinds == "clean_original") & any_pred & ~real)
    out["flagged_clean_originals"] = [
        {
            "file": ds.sources[i],
            "visible": dict(zip(REGIONS, vis[i].round(3).tolist(), strict=True)),
        }
        for i in orig[np.argsort(vis[orig].min(axis=1))][:30]
    ]
    return out


def real_clean_faces(
    model: OcclusionModel, detector: YuNetDetector, files: list[Path]
) -> dict[str, Any]:
    """Real photos of unoccluded faces from other sets (not LFW, never trained on): each region
    scored < 0.5 is a false occlusion, each face with any such region a false 4004."""
    vis = []
    lost = 0
    for f in files:
        img = gen.read_bgr(f)
        face = gen.largest_face(detector, img) if img is not None else None
        if img is None or face is None:
            lost += 1
            continue
        occ = model.estimate_aligned(align_face(img, face.landmarks))
        vis.append([getattr(occ, n) for n in REGIONS])
    v = np.array(vis).reshape(-1, len(REGIONS))
    return {
        "photos": len(files),
        "lost_faces": lost,
        "false_4004": rate(np.asarray((v < 0.5).any(axis=1), bool)),
        "false_occlusion": {n: rate(v[:, i] < 0.5) for i, n in enumerate(REGIONS)},
        "min_visible_p01": {
            n: float(np.quantile(v[:, i], 0.01)) if len(v) else None for i, n in enumerate(REGIONS)
        },
    }


def real_sets(data: Path) -> dict[str, list[Path]]:
    """NUAA live frames (split by the glasses field of their names) and MSU-MFSD live frames,
    where present next to ``data``."""
    sets: dict[str, list[Path]] = {}
    nuaa = sorted((data.parent / "nuaa" / "live").glob("*.jpg"))
    if nuaa:
        # <subject>_<subject>_<glasses>_<pos>_<session>_<n>.jpg
        sets["nuaa_live_glasses"] = [f for f in nuaa if f.name.split("_")[2] == "01"]
        sets["nuaa_live_no_glasses"] = [f for f in nuaa if f.name.split("_")[2] != "01"]
    msu = sorted((data.parent / "msu" / "live").glob("*.jpg"))
    if msu:
        sets["msu_live"] = msu
    return sets


def time_inference(model: OcclusionModel, crops: list[npt.NDArray[np.uint8]]) -> float:
    for c in crops[:20]:
        model.estimate_aligned(c)
    t0 = time.perf_counter()
    for c in crops:
        model.estimate_aligned(c)
    return (time.perf_counter() - t0) / len(crops) * 1000.0


def fmt(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "   -  "
    return f"{100 * x:5.1f}%" if pct else f"{x:6.3f}"


def print_report(res: dict[str, Any]) -> None:
    regions = res["regions"]
    head = f"{'':28s}" + "".join(f"{n:>11s}" for n in REGIONS)
    print("\nfalse occlusion (unoccluded region scored < 0.5), held-out persons")
    print(head)
    for k in CLEAN_KINDS:
        row = "".join(f"{fmt(regions[n]['false_occlusion'][k]):>11s}" for n in REGIONS)
        print(f"  {k:26s}{row}")
    print("\ndetection rate of occluded regions (≥ 50 % covered)  [auc vs clean]")
    print(head)
    for k in gen.OCCLUDER_KINDS:
        tag = " (held-out kind)" if res["kinds"][k]["heldout_kind"] else ""
        cells = []
        for n in REGIONS:
            d, a = regions[n]["detected_by_kind"][k], regions[n]["auc_by_kind"][k]
            cells.append(f"{fmt(d)}[{a:.3f}]" if a is not None else "      -    ")
        print(f"  {(k + tag):26s}" + "".join(f"{c:>11s}" for c in cells))
    for title, key, cell in (
        (
            "number of occluded regions (≥ 50 % covered) behind each rate above",
            "n_occluded_by_kind",
            lambda v: f"{v:>11d}",
        ),
        (
            "detection rate of clearly occluded regions (≥ 70 % covered)",
            "detected_clear_by_kind",
            lambda v: f"{fmt(v):>11s}",
        ),
        (
            "collateral (a < 30 % covered region of an occluded face scored < 0.5)",
            "collateral_by_kind",
            lambda v: f"{fmt(v):>11s}",
        ),
    ):
        print(f"\n{title}")
        print(head)
        for k in gen.OCCLUDER_KINDS:
            print(f"  {k:26s}" + "".join(cell(regions[n][key][k]) for n in REGIONS))
    print("\nall samples")
    print(head)
    print(
        f"  {'accuracy at 0.5':26s}"
        + "".join(f"{fmt(regions[n]['accuracy']):>11s}" for n in REGIONS)
    )
    print(f"  {'ROC AUC':26s}" + "".join(f"{fmt(regions[n]['auc'], False):>11s}" for n in REGIONS))
    print("\nfaces (4004 = any region < 0.5)")
    for k, e in res["kinds"].items():
        lost = f"lost by YuNet {e['lost_faces']}/{e['attempted']}"
        if "false_4004" in e:
            print(f"  {k:26s} false 4004 {fmt(e['false_4004'])}   {lost}")
        else:
            tag = " (held-out kind)" if e["heldout_kind"] else ""
            print(
                f"  {(k + tag):26s} 4004 when occluded {fmt(e['face_4004_when_occluded'])}   {lost}"
            )
    if res.get("real_clean"):
        print("\nreal unoccluded faces from other sets (never trained on)")
        print(f"{'':28s}" + "".join(f"{n:>11s}" for n in REGIONS) + "  false 4004")
        for name, e in res["real_clean"].items():
            row = "".join(f"{fmt(e['false_occlusion'][n]):>11s}" for n in REGIONS)
            label = f"{name} ({e['photos'] - e['lost_faces']})"
            print(f"  {label:26s}{row}  {fmt(e['false_4004'])}")
    print("\nREAL occluders in held-out LFW photos (hand-labelled; detection per region)")
    print(f"{'':28s}" + "".join(f"{n:>11s}" for n in REGIONS) + "  4004")
    for k, e in res["real"].items():
        row_cells = "".join(
            f"{fmt(e['detected'][n]):>6s}/{e['occluded_regions'][n]:<4d}" for n in REGIONS
        )
        print(f"  {k + ' (' + str(e['faces']) + ' faces)':26s}{row_cells}  {fmt(e['face_4004'])}")
    o = res["overall"]
    print(f"\noverall accuracy {fmt(o['accuracy'])}, AUC {o['auc']:.4f}")
    if "inference_ms" in res:
        print(f"inference {res['inference_ms']:.3f} ms per face (features + model, one thread)")


DOC_BLOCK = "occlusion-tables"
OCCLUDERS = ("sunglasses", "mask", "hand", "patch", "scarf")


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f} %"


def render_block(res: dict[str, Any]) -> str:
    """The docs' occlusion figures, from the benchmark's JSON."""
    setup, kinds = res["setup"], res["kinds"]
    held_out = set(setup["model_meta"].get("holdout_kinds", []))
    occluded = round(100 * setup["occluded_at"])
    lines = [
        f"On {setup['test_photos']:,} photos of {setup['test_persons']} **held-out persons** "
        f"(never trained or tuned on), {setup['samples']:,} samples, a region counted occluded "
        f"when ≥ {occluded} % covered:",
        "",
        f"| region | ROC AUC | detected when ≥ {occluded} % covered | false occlusion: clean "
        "photo / clear eyeglasses | detected by occluder: "
        + " / ".join(k + (" (unseen)" if k in held_out else "") for k in OCCLUDERS)
        + " |",
        "|---|---|---|---|---|",
    ]
    for region, r in res["regions"].items():
        fo = r["false_occlusion"]
        by_kind = " / ".join(_pct(r["detected_by_kind"].get(k), 0) for k in OCCLUDERS)
        lines.append(
            f"| {region} | {r['auc']:.3f} | {_pct(r['detected'])} | "
            f"{_pct(fo['clean_original'], 2)} / {_pct(fo['eyeglasses'], 2)} | {by_kind} |"
        )
    lines += [
        "",
        f"| synthetic occluder | photos | 4004 when a region is ≥ {occluded} % covered |",
        "|---|---|---|",
    ]
    for k in OCCLUDERS:
        name = f"{k} (never drawn in training)" if k in held_out else k
        lines.append(
            f"| {name} | {kinds[k]['samples']} | {_pct(kinds[k]['face_4004_when_occluded'])} |"
        )
    clean = kinds["clean_original"]
    refused = len(res["flagged_clean_originals"])
    others = "; ".join(
        f"{name}: {e['photos']} photos, {_pct(e['false_4004'])} refused"
        for name, e in res["real_clean"].items()
    )
    real = res["real"]["clean_original"]
    lines += [
        "",
        f"- **Clean photos refused with 4004:** {_pct(clean['false_4004'], 2)} of untouched test "
        f"photos ({refused}, listed in `benchmarks/results/occlusion.json` as "
        f"`flagged_clean_originals`); frames never used in training: {others}.",
        f"- **Real occluders** (the {real['faces']} test photos with real sunglasses, hands or "
        f"microphones): {_pct(real['face_4004'], 0)} refused with 4004.",
        f"- **Time:** {res['inference_ms']:.1f} ms a face (features and model, one thread).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True, help="LFW folder (<person>/<image>.jpg)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--model", type=Path, default=None, help="weights (default: the shipped file)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many test photos")
    ap.add_argument(
        "--cache", type=Path, default=None, help="folder for the generated test features"
    )
    ap.add_argument("--doc", type=Path, default=None, help="rewrite the figures in this page")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)

    model_path = args.model or default_model()
    model = OcclusionModel(model_path)
    detector = gen.make_detector()
    images = gen.list_images(args.data, ("test",))
    if args.limit:
        images = images[: args.limit]
    persons = len({p for p, _ in images})
    print(f"test persons {persons}, photos {len(images)}; model {model_path}", flush=True)

    t0 = time.perf_counter()
    cache = (
        args.cache / f"occl_test_{len(images)}_{gen.SEED}_g{gen.GENERATOR_VERSION}.npz"
        if args.cache
        else None
    )
    if cache is not None and cache.is_file():
        ds = gen.load_dataset(cache)
    else:
        pools = gen.build_pools(detector, images, 400, "test")
        ds = gen.build_dataset(detector, images, PLAN, pools, "test", flip=False)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            gen.save_dataset(ds, cache)
    ds = gen.with_real_labels(ds)
    print(f"{len(ds.kinds)} samples ({time.perf_counter() - t0:.0f} s)", flush=True)

    res = evaluate(model, ds)
    crops = []
    for _, path in images[:300]:
        img = gen.read_bgr(path)
        face = gen.largest_face(detector, img) if img is not None else None
        if img is not None and face is not None:
            crops.append(align_face(img, face.landmarks))
    res["inference_ms"] = time_inference(model, crops)
    res["real_clean"] = {
        name: real_clean_faces(model, detector, files)
        for name, files in real_sets(args.data).items()
    }
    res["setup"] = {
        "model": str(model_path),
        "model_meta": model.meta,
        "test_persons": persons,
        "test_photos": len(images),
        "samples": len(ds.kinds),
        "occluded_at": gen.OCCLUDED_AT,
        "unoccluded_below": VISIBLE_BELOW,
        "model_sha256": hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
    }
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.doc:
        write_block(args.doc, DOC_BLOCK, render_block(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
