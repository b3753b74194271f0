"""Fusing liveness cues into one score: one logistic model per attack type, whose weights are data.

A print and a replayed video give themselves away differently: a print moves as one plane with
its paper and shows ink's black, while a replay shows a live person's motion and only the screen
betrays it (its bezel, its black, the glass a frame model sees). One linear model asked to
separate live faces from both at once has to trade one against the other. So each attack type
gets its own model — an *expert* fitted on live samples against that type only — and a sample
is as live as its least convinced expert: the fused score is the minimum of the experts'
probabilities.

``tools/fit_liveness.py`` fits the experts on the development data and writes them, with
the threshold and the leave-one-source-out error rates behind it, to the JSON files next to
this module. Standardising each cue first keeps the weights readable: a weight is the change in
log-odds of "live" per standard deviation of its cue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

FORMAT = 2


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


@dataclass(frozen=True, slots=True)
class Expert:
    """A logistic model on standardised cues, separating live faces from one attack type."""

    attack: str  # "print", "replay", or "any" for a model fitted on all attacks together
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

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
        return _sigmoid(self.logit(values))

    def contributions(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each cue's share of the logit (weight × clipped standard score): the most negative
        are what made this expert doubt the face is live."""
        out = {}
        for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True):
            v = float(values.get(name, m))
            z = 0.0 if math.isnan(v) else max(-6.0, min(6.0, (v - m) / s))
            out[name] = w * z
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expert:
        n = len(data["features"])
        if not all(len(data[k]) == n for k in ("mean", "scale", "weights")):
            raise ValueError("fusion: features, mean, scale and weights differ in length")
        if any(float(s) <= 0 for s in data["scale"]):
            raise ValueError("fusion: scales must be positive")
        return cls(
            attack=str(data["attack"]),
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(float(v) for v in data["weights"]),
            bias=float(data["bias"]),
        )


@dataclass(frozen=True, slots=True)
class Fusion:
    name: str
    experts: tuple[Expert, ...]
    threshold: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """Every cue some expert reads, in first-use order."""
        return tuple(dict.fromkeys(f for e in self.experts for f in e.features))

    def expert_scores(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each expert's probability of "live", by the attack type it guards against."""
        return {e.attack: e.score(values) for e in self.experts}

    def score(self, values: Mapping[str, float]) -> float:
        """Probability-like liveness score in [0, 1]: the least convinced expert's. With no
        experts (an unfitted placeholder) every sample scores 0.5."""
        return min(self.expert_scores(values).values(), default=0.5)

    def explain(self, values: Mapping[str, float], top: int = 2) -> tuple[str, tuple[str, ...]]:
        """The least convinced expert (the attack type the sample looks most like) and the cues
        that pushed it down the most, strongest first ("", () for an unfitted fusion)."""
        if not self.experts:
            return "", ()
        worst = min(self.experts, key=lambda e: e.score(values))
        against = sorted((c, n) for n, c in worst.contributions(values).items() if c < 0)
        return worst.attack, tuple(n for _, n in against[:top])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "combine": "min",
            "experts": [e.to_dict() for e in self.experts],
            "threshold": self.threshold,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fusion:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown fusion format {data.get('format')!r}")
        if data.get("combine") != "min":
            raise ValueError(f"unknown way to combine experts {data.get('combine')!r}")
        experts = tuple(Expert.from_dict(e) for e in data["experts"])
        if not experts:
            raise ValueError("fusion: no experts")
        if len({e.attack for e in experts}) != len(experts):
            raise ValueError("fusion: two experts for the same attack")
        return cls(
            name=str(data["name"]),
            experts=experts,
            threshold=float(data["threshold"]),
            info=dict(data.get("info", {})),
        )


def fusion_file(with_pack: bool) -> str:
    return f"video_{'minifasnet' if with_pack else 'default'}.json"


def load_fusion(with_pack: bool) -> Fusion:
    name = fusion_file(with_pack)
    ref = resources.files("facegate.vision.liveness").joinpath(name)
    if not ref.is_file():
        raise FileNotFoundError(f"liveness fusion {name} is missing; run tools/fit_liveness.py")
    return Fusion.from_dict(json.loads(ref.read_text()))
