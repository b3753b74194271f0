"""The FAR/TAR counting shared by tools/calibrate.py and benchmarks/verification.py, on small
synthetic embeddings whose answers can be counted by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tools.far import (
    BALANCED_CAP,
    BALANCED_DRAWS,
    balanced,
    far_at_thresholds,
    pair_similarities,
    tar_at_far,
)
from tools.lfw_data import LfwEmbeddings, capped, impostor_similarities, surname_families


def embeddings(photos: dict[str, int], *, seed: int = 0, missing: int = 0) -> LfwEmbeddings:
    """Random unit vectors, ``photos[name]`` per person; the first ``missing`` files have no
    face."""
    rng = np.random.default_rng(seed)
    persons = sorted(photos)
    files = [f"{p}/{p}_{i + 1:04d}.jpg" for p in persons for i in range(photos[p])]
    person = np.array([persons.index(f.split("/")[0]) for f in files], dtype=np.int32)
    v = rng.normal(size=(len(files), 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    found = np.ones(len(files), dtype=bool)
    found[:missing] = False
    v[~found] = 0
    w = rng.normal(size=(len(files), 16)).astype(np.float32)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    return LfwEmbeddings(files, person, persons, found, {"a": v, "b": w})


def brute_impostors(
    emb: LfwEmbeddings, ids: list[str], norms: list[tuple[float, float]] | None
) -> list[float]:
    out = []
    for i, j in itertools.combinations(range(len(emb.files)), 2):
        if emb.person[i] == emb.person[j] or not (emb.found[i] and emb.found[j]):
            continue
        cos = [float(emb.vectors[k][i] @ emb.vectors[k][j]) for k in ids]
        out.append(
            cos[0]
            if norms is None
            else sum((c - m) / s for c, (m, s) in zip(cos, norms, strict=True))
        )
    return sorted(out)


def test_impostor_pairs_are_every_cross_person_pair_once() -> None:
    emb = embeddings({"Ann_Lee": 5, "Bob_Lee": 3, "Cy_Roe": 4}, missing=2)
    single = impostor_similarities(emb, ["a"], block=3)
    assert np.allclose(np.sort(single), brute_impostors(emb, ["a"], None), atol=1e-6)
    norms = [(0.1, 0.5), (-0.2, 2.0)]
    fused = impostor_similarities(emb, ["a", "b"], norms, block=4)
    assert np.allclose(np.sort(fused), brute_impostors(emb, ["a", "b"], norms), atol=1e-5)


def test_capped_keeps_at_most_the_cap_of_photos_with_a_face_per_person() -> None:
    emb = embeddings({"Many_Photos": 40, "Few_Photos": 4, "Some_Photos": 12}, missing=5)
    for seed in range(3):
        keep = capped(emb, 10, seed)
        assert not (keep & ~emb.found).any()
        counts = np.bincount(emb.person[keep], minlength=len(emb.persons))
        totals = np.bincount(emb.person[emb.found], minlength=len(emb.persons))
        assert counts.tolist() == np.minimum(totals, 10).tolist()
    assert (capped(emb, 10, 0) == capped(emb, 10, 0)).all()
    assert (capped(emb, 10, 0) != capped(emb, 10, 1)).any()


def test_balanced_equals_all_pairs_when_nobody_has_more_than_the_cap() -> None:
    emb = embeddings({f"P_{i}": 1 + i % BALANCED_CAP for i in range(30)})
    impostor = impostor_similarities(emb, ["a"])
    genuine = np.linspace(-0.2, 0.9, 50)

    def cal(x: object) -> np.ndarray:
        return np.clip((np.asarray(x, dtype=np.float64) + 1) / 2, 0, 1)

    b = balanced(emb, ["a"], None, cal, genuine)
    assert b["far_at_threshold_balanced"] == pytest.approx(far_at_thresholds(cal, impostor))
    assert b["tar_at_far_balanced"] == pytest.approx(tar_at_far(genuine, impostor))
    assert b["balanced_protocol"] == {
        "max_photos_per_person": BALANCED_CAP,
        "draws": BALANCED_DRAWS,
        "impostor_pairs_mean": impostor.size,
    }


def test_balanced_weighs_persons_not_photos() -> None:
    # One prolific person whose photos all look like one other person: over all pairs that
    # look-alike pair dominates the false accepts; capped at 10 photos it is one pair of persons.
    emb = embeddings({"Prolific": 200, "Lookalike": 10, **{f"Other_{i}": 5 for i in range(20)}})
    base = emb.vectors["a"][emb.person == emb.persons.index("Lookalike")][0]
    near = base + 0.05 * np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32)
    emb.vectors["a"][emb.person == emb.persons.index("Prolific")] = near / np.linalg.norm(
        near, axis=1, keepdims=True
    )
    cal = lambda x: (np.asarray(x, dtype=np.float64) > 0.9).astype(np.float64)  # noqa: E731
    all_pairs = far_at_thresholds(cal, impostor_similarities(emb, ["a"]))["0.9"]
    b = balanced(emb, ["a"], None, cal, np.zeros(3))["far_at_threshold_balanced"]
    assert isinstance(b, dict)
    assert 0 < b["0.9"] < all_pairs / 3


def test_a_pair_without_a_face_is_a_rejection() -> None:
    emb = embeddings({"Ann_Lee": 3, "Bob_Lee": 3}, missing=1)
    pairs = [(emb.files[0], emb.files[1], True), (emb.files[1], emb.files[2], True)]
    sims = pair_similarities(emb, ["a"], None, pairs)
    assert sims[0] == -1.0
    assert sims[1] == float(emb.vectors["a"][1] @ emb.vectors["a"][2])
    fused = pair_similarities(emb, ["a", "b"], [(0.0, 0.5), (0.0, 0.5)], pairs)
    assert fused[0] == -4.0  # the lowest fused similarity: (-1 - 0) / 0.5, twice


def test_surname_families() -> None:
    persons = ["George_HW_Bush", "George_W_Bush", "Jeb_Bush", "Ann_Lee", "Madonna", "Bob_Roe"]
    assert surname_families(persons) == {"Bush": [0, 1, 2]}
