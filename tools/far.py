"""False accepts and true accepts counted on LFW-format data, shared by the calibration fit and the
verification benchmark so that both count them the same way."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tools.lfw_data import LfwEmbeddings, capped, impostor_similarities, similarity_bounds

THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # the manual's verification_score thresholds
FARS = ("1e-3", "1e-4", "1e-5", "1e-6")
BALANCED_CAP = 10  # photos per person
BALANCED_DRAWS = 5

# similarity → verification_score
Apply = Callable[[npt.ArrayLike], npt.NDArray[np.float64]]


def pair_similarities(
    emb: LfwEmbeddings,
    ids: list[str],
    norms: list[tuple[float, float]] | None,
    pairs: list[tuple[str, str, bool]],
) -> np.ndarray:
    """Similarity of each pair; a pair with a photo where no face was found gets the lowest
    possible similarity (the server answers 4000: a rejection)."""
    index = emb.index()
    lo, _ = similarity_bounds(ids, norms)
    out = np.empty(len(pairs))
    for n, (a, b, _) in enumerate(pairs):
        ia, ib = index[a], index[b]
        if not (emb.found[ia] and emb.found[ib]):
            out[n] = lo
            continue
        cos = [float(emb.vectors[i][ia] @ emb.vectors[i][ib]) for i in ids]
        out[n] = (
            cos[0]
            if norms is None
            else sum((c - m) / s for c, (m, s) in zip(cos, norms, strict=True))
        )
    return out


def threshold_at_far(impostor_sorted_desc: np.ndarray, far: float) -> float:
    k = max(int(far * impostor_sorted_desc.size), 1)
    return float(impostor_sorted_desc[k - 1])


def far_at_thresholds(cal_apply: Apply, impostor: np.ndarray) -> dict[str, float]:
    scores = cal_apply(impostor)
    return {f"{t:.1f}": float((scores >= t).mean()) for t in THRESHOLDS}


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    desc = np.sort(impostor)[::-1]
    return {f: float((genuine >= threshold_at_far(desc, float(f))).mean()) for f in FARS}


def mean_by_key(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def balanced(
    emb: LfwEmbeddings,
    ids: list[str],
    norms: list[tuple[float, float]] | None,
    cal_apply: Apply,
    genuine: np.ndarray,
) -> dict[str, object]:
    """FAR at each threshold and TAR at each FAR over impostor pairs of at most
    ``BALANCED_CAP`` photos per person, mean over ``BALANCED_DRAWS`` draws."""
    fars, tars, sizes = [], [], []
    for seed in range(BALANCED_DRAWS):
        impostor = impostor_similarities(emb, ids, norms, subset=capped(emb, BALANCED_CAP, seed))
        fars.append(far_at_thresholds(cal_apply, impostor))
        tars.append(tar_at_far(genuine, impostor))
        sizes.append(impostor.size)
    return {
        "far_at_threshold_balanced": mean_by_key(fars),
        "tar_at_far_balanced": mean_by_key(tars),
        "balanced_protocol": {
            "max_photos_per_person": BALANCED_CAP,
            "draws": BALANCED_DRAWS,
            "impostor_pairs_mean": int(np.mean(sizes)),
        },
    }
