from __future__ import annotations

import numpy as np
import pytest

from facegate.core.scoring import Calibration, far_for_score, fit_calibration, score_for_far


def test_score_far_mapping_is_the_manuals() -> None:
    for t, far in [(0.4, 1e-1), (0.5, 1e-2), (0.6, 1e-3), (0.7, 1e-4), (0.8, 1e-5), (0.9, 1e-6)]:
        assert far_for_score(t) == pytest.approx(far)
        assert score_for_far(far) == pytest.approx(t)


def test_fit_makes_measured_far_match_the_target() -> None:
    rng = np.random.default_rng(1)
    impostor = rng.normal(0.0, 0.1, 4_000_000)
    cal = fit_calibration(impostor, lower_bound=-1.0, upper_bound=1.0)
    scores = cal.apply(impostor)
    for t in (0.4, 0.5, 0.6, 0.7, 0.8):
        measured = (scores >= t).mean()
        assert measured == pytest.approx(far_for_score(t), rel=0.05)
    # On fresh data from the same distribution the rates hold within a factor of 2.
    fresh = cal.apply(rng.normal(0.0, 0.1, 4_000_000))
    for t in (0.4, 0.5, 0.6, 0.7):
        assert 0.5 < (fresh >= t).mean() / far_for_score(t) < 2.0


def test_calibration_is_monotone_bounded_and_extrapolates_the_tail() -> None:
    rng = np.random.default_rng(2)
    cal = fit_calibration(rng.normal(0.0, 0.1, 200_000), lower_bound=-1.0, upper_bound=1.0)
    grid = np.linspace(-1.0, 1.0, 2001)
    s = cal.apply(grid)
    assert np.all(np.diff(s) >= 0)
    assert s[0] == 0.0
    assert s[-1] == 1.0
    # 200k pairs measure FAR only to 5e-5 (score 0.73); above that the tail is extrapolated,
    # and for a Gaussian the extrapolated 1e-6 point lies near 4.75 sigma.
    assert cal.threshold_for(0.9) == pytest.approx(0.475, abs=0.04)


def test_round_trip_through_dict() -> None:
    cal = Calibration((-1.0, 0.0, 1.0), (0.0, 0.5, 1.0), {"x": 1})
    again = Calibration.from_dict(cal.to_dict())
    assert again == cal
    assert again(0.5) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("sims", "scores"),
    [
        ((0.0, 0.0), (0.0, 1.0)),
        ((0.0, 1.0), (1.0, 0.0)),
        ((0.0,), (0.0,)),
        ((0.0, 1.0), (0.0, 1.5)),
    ],
)
def test_invalid_knots_are_refused(sims: tuple[float, ...], scores: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="calibration"):
        Calibration(sims, scores)


def test_too_few_impostors_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1000"):
        fit_calibration(np.zeros(10), lower_bound=-1, upper_bound=1)
