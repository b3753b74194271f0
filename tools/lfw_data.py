"""LFW-format data read through the server's own decode → detect → embed path, with a cache.

Shared by ``calibrate.py`` and ``verification.py`` so that the calibration is fitted on, and the
benchmark measures, exactly what the server computes for each photo.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facegate.core.errors import ImageError
from facegate.core.media import decode_image
from facegate.settings import Settings
from facegate.vision.pipeline import FacePipeline, PipelineOptions

CACHE_DIR = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class LfwEmbeddings:
    files: list[str]  # "Person/Person_0001.jpg"
    person: np.ndarray  # int index per file
    persons: list[str]
    found: np.ndarray  # bool: a face was detected
    vectors: dict[str, np.ndarray]  # embedder id → float32 [n, d] (zeros where not found)

    def index(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.files)}


def list_images(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for p in data.glob("*/*.jpg"))


def read_pairs(data: Path) -> list[tuple[str, str, bool]]:
    """pairs.txt without header: ``name i j`` (same) or ``name1 i name2 j`` (different)."""
    pairs = []
    for line in (data / "pairs.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            a = f"{parts[0]}/{parts[0]}_{int(parts[1]):04d}.jpg"
            b = f"{parts[0]}/{parts[0]}_{int(parts[2]):04d}.jpg"
            pairs.append((a, b, True))
        elif len(parts) == 4:
            a = f"{parts[0]}/{parts[0]}_{int(parts[1]):04d}.jpg"
            b = f"{parts[2]}/{parts[2]}_{int(parts[3]):04d}.jpg"
            pairs.append((a, b, False))
    return pairs


def embed_lfw(
    data: Path, profile: str, settings: Settings, *, threads: int = 2, use_cache: bool = True
) -> LfwEmbeddings:
    files = list_images(data)
    pipe = FacePipeline(
        PipelineOptions(
            profile=profile,
            detect_max_side=settings.detect_max_side,
            detect_coarse_side=settings.detect_coarse_side,
            detect_min_score=settings.detect_min_score,
            runtime=settings.runtime,
            calibrated=False,
            with_quality=False,
        )
    )
    ids = [e.id for e in pipe.embedders]
    # One cache file per embedder, keyed by what decides its vectors: the photos, the detector
    # and its settings, and the embedder's own weights.
    common = {
        "data": str(data.resolve()),
        "files": files,
        "detector": pipe.manifest.models[pipe.profile.detector].sha256,
        "detect": [
            settings.detect_max_side,
            settings.detect_coarse_side,
            settings.detect_min_score,
        ],
        "version": 4,  # 4: the main face found coarse to fine, as the 1:1 endpoints do
    }

    def cache_path(embedder: str) -> Path:
        key = {
            **common,
            "embedder": pipe.manifest.models[embedder].sha256,
            "runtime": pipe.runtimes[embedder],
        }
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
        return CACHE_DIR / f"lfw-{embedder}-{digest}.npz"

    persons = sorted({f.split("/")[0] for f in files})
    pidx = {p: i for i, p in enumerate(persons)}
    person = np.array([pidx[f.split("/")[0]] for f in files], dtype=np.int32)
    if use_cache and all(cache_path(i).is_file() for i in ids):
        loaded = {i: np.load(cache_path(i), allow_pickle=False) for i in ids}
        found_c = loaded[ids[0]]["found"]
        return LfwEmbeddings(
            files, person, persons, found_c, {i: z["vectors"] for i, z in loaded.items()}
        )

    cv2.setNumThreads(1)

    def one(rel: str) -> tuple[bool, list[np.ndarray]]:
        try:
            image = decode_image((data / rel).read_bytes(), settings.image_limits)
        except ImageError:
            return False, []
        try:
            oriented, face = pipe.detect_main(image.pixels, rel)
        except ImageError:
            return False, []
        return True, list(pipe.embed(oriented.pixels, face))

    found = np.zeros(len(files), dtype=bool)
    vecs = {i: np.zeros((len(files), 128), dtype=np.float32) for i in ids}
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for n, (ok, emb) in enumerate(pool.map(one, files)):
            found[n] = ok
            for i, v in zip(ids, emb, strict=False):
                vecs[i][n] = v
            if n % 500 == 0:
                print(
                    f"  embedded {n}/{len(files)} in {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for i in ids:
        np.savez(cache_path(i), found=found, vectors=vecs[i])
    return LfwEmbeddings(files, person, persons, found, vecs)


def similarities(
    emb: LfwEmbeddings,
    ids: list[str],
    norms: list[tuple[float, float]] | None,
    rows: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray:
    """The similarity matrix of files ``rows`` × ``cols``: the cosine for one embedder, or the
    z-normalised sum for several (``norms`` = impostor mean and std per embedder)."""
    if len(ids) == 1:
        m = emb.vectors[ids[0]]
        return np.asarray(m[rows] @ m[cols].T, dtype=np.float32)
    if norms is None:
        raise ValueError("fusing several embedders needs their impostor norms")
    total = sum(
        (emb.vectors[i][rows] @ emb.vectors[i][cols].T - mu) / sd
        for i, (mu, sd) in zip(ids, norms, strict=True)
    )
    return np.asarray(total, dtype=np.float32)


def impostor_similarities(
    emb: LfwEmbeddings,
    ids: list[str],
    norms: list[tuple[float, float]] | None = None,
    subset: np.ndarray | None = None,
    block: int = 512,
) -> np.ndarray:
    """Similarity of every cross-person pair (each unordered pair once) among images with a
    face, restricted to ``subset`` (bool per file) if given."""
    keep = emb.found if subset is None else emb.found & subset
    idx = np.flatnonzero(keep)
    person = emb.person[idx]
    out: list[np.ndarray] = []
    n = idx.size
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        sims = similarities(emb, ids, norms, idx[rows], idx)
        r = np.arange(rows.start, rows.stop)[:, None]
        c = np.arange(n)[None, :]
        mask = (c > r) & (person[rows][:, None] != person[None, :])
        out.append(sims[mask])
    return np.concatenate(out)


def capped(emb: LfwEmbeddings, cap: int, seed: int) -> np.ndarray:
    """At most ``cap`` photos with a face per person, drawn at random (bool per file).

    LFW is skewed: one person has 530 photos, so a FAR over all cross-person pairs mostly
    counts his pairs (and his relatives' and the photos with him in the background); capping
    every identity at the same few photos weighs persons, not photos."""
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(emb.files), dtype=bool)
    order = np.argsort(emb.person, kind="stable")
    starts = np.searchsorted(emb.person[order], np.arange(len(emb.persons) + 1))
    for p in range(len(emb.persons)):
        idx = order[starts[p] : starts[p + 1]]
        idx = idx[emb.found[idx]]
        keep[rng.choice(idx, cap, replace=False) if idx.size > cap else idx] = True
    return keep


def surname_families(persons: list[str]) -> dict[str, list[int]]:
    """Persons grouped by the last part of their name ("George_W_Bush" → "Bush"), for the groups
    of two or more: where siblings, parents and children are, with namesakes among them."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(persons):
        groups.setdefault(name.rsplit("_", 1)[-1], []).append(i)
    return {k: v for k, v in sorted(groups.items()) if len(v) > 1}


def embedder_norms(
    emb: LfwEmbeddings, ids: list[str], subset: np.ndarray | None = None
) -> list[tuple[float, float]]:
    norms = []
    for i in ids:
        v = impostor_similarities(emb, [i], subset=subset).astype(np.float64)
        norms.append((float(v.mean()), float(v.std())))
    return norms


def similarity_bounds(
    ids: list[str], norms: list[tuple[float, float]] | None
) -> tuple[float, float]:
    if len(ids) == 1 or norms is None:
        return -1.0, 1.0
    return (
        float(sum((-1.0 - m) / s for m, s in norms)),
        float(sum((1.0 - m) / s for m, s in norms)),
    )


def person_half(persons: list[str], person: np.ndarray) -> np.ndarray:
    """A fixed split of persons in two halves by a hash of the name (bool per file: half A)."""
    in_a = np.array([int(hashlib.sha256(p.encode()).hexdigest(), 16) % 2 == 0 for p in persons])
    return in_a[person]
