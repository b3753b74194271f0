"""Raw similarity → calibrated ``verification_score``.

The manual promises that a threshold t in {0.4, …, 0.9} has a false-accept rate of
10^-(10t-3). We make that true by definition on measured impostor pairs: the score of a
similarity s is (3 - log10 FAR(s)) / 10, where FAR(s) is the fraction of impostor pairs whose
similarity is ≥ s. The function is stored as monotone knots next to the model (data, not code),
with an exponential-tail extrapolation above the last reliably measured rate and a linear ramp
to 0 below FAR = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


def score_for_far(far: float) -> float:
    return (3.0 - math.log10(far)) / 10.0


def far_for_score(score: float) -> float:
    return float(10.0 ** -(10.0 * score - 3.0))


@dataclass(frozen=True, slots=True)
class Calibration:
    similarity: tuple[float, ...]
    score: tuple[float, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.similarity) != len(self.score) or len(self.similarity) < 2:
            raise ValueError("calibration needs at least two knots of (similarity, score)")
        if any(b <= a for a, b in zip(self.similarity, self.similarity[1:], strict=False)):
            raise ValueError("calibration similarities must be strictly increasing")
        if any(b < a for a, b in zip(self.score, self.score[1:], strict=False)):
            raise ValueError("calibration scores must be non-decreasing")
        if self.score[0] < 0.0 or self.score[-1] > 1.0:
            raise ValueError("calibration scores must lie in [0, 1]")

    def __call__(self, similarity: float) -> float:
        return float(np.interp(similarity, self.similarity, self.score))

    def apply(self, similarity: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.interp(np.asarray(similarity, dtype=np.float64), self.similarity, self.score)

    def threshold_for(self, score: float) -> float:
        """The similarity at which the calibrated score reaches ``score``."""
        return float(np.interp(score, self.score, self.similarity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": [round(s, 7) for s in self.similarity],
            "score": [round(s, 6) for s in self.score],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            tuple(float(s) for s in data["similarity"]),
            tuple(float(s) for s in data["score"]),
            dict(data.get("meta", {})),
        )


def fit_calibration(
    impostor: npt.ArrayLike,
    *,
    lower_bound: float,
    upper_bound: float,
    min_count: int = 10,
    tail_fit_far: tuple[float, float] = (1e-4, 1e-6),
    step: float = 0.01,
    meta: dict[str, Any] | None = None,
) -> Calibration:
    """Fit knots so that the fraction of ``impostor`` similarities scoring ≥ t is 10^-(10t-3).

    Knots are placed every ``step`` of score from 0.3 (FAR 1) up to the rarest rate that still
    has ``min_count`` impostor pairs above it. Above that, log10 FAR is extrapolated linearly in
    similarity (an exponential tail), fitted on the knots between ``tail_fit_far``, up to score 1.
    ``lower_bound`` and ``upper_bound`` are the similarity's possible range (−1, 1 for cosine).
    """
    sims = np.sort(np.asarray(impostor, dtype=np.float64).ravel())[::-1]  # descending
    n = sims.size
    if n < 1000:
        raise ValueError(f"need at least 1000 impostor similarities to calibrate, got {n}")
    rarest_far = min_count / n
    top_score = min(score_for_far(rarest_far), 1.0)
    targets = np.arange(0.3, top_score + 1e-9, step)
    knots_s: list[float] = []
    knots_t: list[float] = []
    for t in targets:
        far = far_for_score(float(t))
        # The similarity s with exactly far·n impostors ≥ s: the k-th largest, interpolated.
        k = far * n
        lo = min(max(math.floor(k), 1), n)
        hi = min(lo + 1, n)
        frac = k - lo
        s = sims[lo - 1] * (1 - frac) + sims[hi - 1] * frac if k >= 1 else sims[0]
        knots_s.append(float(s))
        knots_t.append(float(t))
    s_arr = np.array(knots_s)
    t_arr = np.array(knots_t)

    # Exponential tail: log10 FAR = a + b·s fitted where the counts are still meaningful.
    far_arr = 10.0 ** -(10.0 * t_arr - 3.0)
    sel = (far_arr <= tail_fit_far[0]) & (far_arr >= max(tail_fit_far[1], rarest_far))
    if sel.sum() >= 3:
        slope = float(np.polyfit(s_arr[sel], np.log10(far_arr[sel]), 1)[0])
        if slope < 0:
            # The slope comes from the fit; the line is anchored at the last measured knot so
            # the function stays continuous and increasing.
            s_last, t_last = float(s_arr[-1]), float(t_arr[-1])
            for t in np.arange(t_last + step, 1.0 + 1e-9, step):
                s = s_last - 10.0 * (float(t) - t_last) / slope
                if s >= upper_bound:
                    break
                s_arr = np.append(s_arr, s)
                t_arr = np.append(t_arr, t)
    # Close the ends: score 1 at the top of the range, a ramp to 0 at the bottom.
    s_arr = np.append(s_arr, upper_bound)
    t_arr = np.append(t_arr, 1.0)
    s_arr = np.insert(s_arr, 0, lower_bound)
    t_arr = np.insert(t_arr, 0, 0.0)
    # Ties among empirical quantiles would break strict monotonicity; keep the first of each.
    keep = np.concatenate([[True], np.diff(s_arr) > 1e-9])
    s_arr, t_arr = s_arr[keep], np.minimum(np.maximum.accumulate(t_arr[keep]), 1.0)
    info = {"impostor_pairs": int(n), "rarest_measured_far": rarest_far, **(meta or {})}
    return Calibration(tuple(float(x) for x in s_arr), tuple(float(x) for x in t_arr), info)
