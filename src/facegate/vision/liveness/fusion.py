"""Fusing liveness cues into one score: a logistic model whose weights are data.

``benchmarks/fit_liveness.py`` fits the weights on the development data and writes them, with
the threshold and the cross-validated error rates behind it, to the JSON files next to this
module. Standardising each cue first keeps the weights readable: a weight is the change in
log-odds of "live" per standard deviation of its cue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class Fusion:
    name: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    info: dict[str, Any] = field(default_factory=dict)

    def logit(self, values: Mapping[str, float]) -> float:
        total = self.bias
        for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True):
            v = float(values.get(name, m))
            # A cue that could not be measured (NaN) counts as average: it tells nothing.
            z = 0.0 if math.isnan(v) else (v - m) / s
            # Clipped so that one absurd cue (a corrupt frame) cannot outvote all the others.
            total += w * max(-6.0, min(6.0, z))
        return total

    def score(self, values: Mapping[str, float]) -> float:
        """Probability-like liveness score in [0, 1]."""
        x = self.logit(values)
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "name": self.name,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fusion:
        if data.get("format") != 1:
            raise ValueError(f"unknown fusion format {data.get('format')!r}")
        n = len(data["features"])
        if not all(len(data[k]) == n for k in ("mean", "scale", "weights")):
            raise ValueError("fusion: features, mean, scale and weights differ in length")
        if any(float(s) <= 0 for s in data["scale"]):
            raise ValueError("fusion: scales must be positive")
        return cls(
            name=str(data["name"]),
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(float(v) for v in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            info=dict(data.get("info", {})),
        )


def fusion_file(kind: str, with_pack: bool) -> str:
    """``kind``: "video" or "still"."""
    return f"{kind}_{'minifasnet' if with_pack else 'default'}.json"


def load_fusion(kind: str, with_pack: bool) -> Fusion:
    name = fusion_file(kind, with_pack)
    ref = resources.files("facegate.vision.liveness").joinpath(name)
    if not ref.is_file():
        raise FileNotFoundError(
            f"liveness fusion {name} is missing; run benchmarks/fit_liveness.py"
        )
    return Fusion.from_dict(json.loads(ref.read_text()))
