from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facegate.vision.manifest import (
    ModelIntegrityError,
    load_manifest,
    load_profile_calibration,
    sha256_file,
)


def test_every_model_is_installed_and_matches_its_sha256() -> None:
    manifest = load_manifest()
    for mid, spec in manifest.models.items():
        path = manifest.verified_path(mid)
        assert path.is_file()
        assert spec.license
        assert spec.source
        assert spec.package


def test_a_tampered_file_refuses_to_load(tmp_path: Path) -> None:
    manifest = load_manifest()
    original = manifest.locate("yunet_2023mar_int8bq")
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    assert manifest.verified_path("yunet_2023mar_int8bq", tmp_path) == copy
    with copy.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        manifest.verified_path("yunet_2023mar_int8bq", tmp_path)
    assert sha256_file(copy) != manifest.models["yunet_2023mar_int8bq"].sha256


def test_profiles_carry_their_calibration() -> None:
    manifest = load_manifest()
    for profile in manifest.profiles.values():
        cal = load_profile_calibration(profile)
        assert len(cal.norms) == len(profile.embedders)
        assert cal.calibration.meta["impostor_pairs"] > 1_000_000
        # Each manual threshold maps to a similarity inside the measured range.
        sims = [cal.calibration.threshold_for(t) for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
        assert sims == sorted(sims)


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ModelIntegrityError, match="unknown profile"):
        load_manifest().profile("turbo")
