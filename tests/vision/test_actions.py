"""The prompted-action rule of server-driven sessions, on landmark signals made to order: an
action counts only when it rises from rest after the subject could have read its prompt."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.core.package import ActionKind, ChallengeAction
from facegate.core.results import ActionSeen
from facegate.vision.liveness import actions
from facegate.vision.liveness.package_check import challenge_verdict

STEP_MS = 100
FRAMES = 36  # 0 … 3500 ms
PROMPT_MS = 1000
WINDOW = (11, 35)  # the frames after the prompt, up to its 2.5 s deadline
STAMPS = [i * STEP_MS for i in range(FRAMES)]


def turning(yaw_at: dict[int, float]) -> actions.Signals:
    """A still face (eyes open, mouth shut, 0° pitch) whose yaw is 0° except at the given
    capture times (ms), where it takes the given degrees."""
    yaw = np.array([yaw_at.get(t, 0.0) for t in STAMPS], dtype=np.float64)
    return actions.Signals(
        ear=np.full(FRAMES, 0.3), mouth=np.zeros(FRAMES), yaw=yaw, pitch=np.zeros(FRAMES)
    )


def verdict(kind: ActionKind, signals: actions.Signals) -> tuple[bool, str]:
    rest = actions.Resting.of(signals, exclude=range(WINDOW[0], WINDOW[1] + 1))
    assert rest is not None
    seen = actions.prompted_action_seen(kind, signals, *WINDOW, rest, STAMPS, PROMPT_MS)
    assert (seen.frame is not None) == seen.ok
    return seen.ok, seen.why


def span(first_ms: int, last_ms: int, degrees: float) -> dict[int, float]:
    return {t: degrees for t in STAMPS if first_ms <= t <= last_ms}


def test_a_turn_begun_after_the_prompt_counts() -> None:
    signals = turning(span(1600, 2400, 25.0))
    assert verdict(ActionKind.TURN_LEFT, signals) == (True, "")
    challenge = (ChallengeAction(ActionKind.TURN_LEFT, *WINDOW, prompted_ms=PROMPT_MS),)
    seen, _ = challenge_verdict(challenge, signals, STAMPS)
    assert seen == (ActionSeen(kind="turn_left", level=25.0 / actions.TURN_DEGREES, frame=16),)


def test_a_turn_already_under_way_at_the_prompt_does_not() -> None:
    ok, why = verdict(ActionKind.TURN_LEFT, turning(span(700, 2400, 25.0)))
    assert not ok
    assert "under way before the prompt could have been read" in why


def test_a_turn_faster_than_anyone_reads_the_prompt_does_not() -> None:
    # At rest only in the frame 100 ms after the prompt, turned from 200 ms on.
    ok, why = verdict(ActionKind.TURN_LEFT, turning(span(1200, 3500, 25.0)))
    assert not ok
    assert "under way" in why


def test_a_head_sweeping_both_ways_answers_neither_turn() -> None:
    sweep = span(1500, 1800, 25.0) | span(2200, 2500, -25.0)
    for kind in (ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT):
        ok, why = verdict(kind, turning(sweep))
        assert not ok
        assert "other way" in why


def test_too_small_a_turn_says_how_far_it_went() -> None:
    ok, why = verdict(ActionKind.TURN_LEFT, turning(span(1600, 2400, 9.0)))
    assert not ok
    assert "reaches 0.50 of the 1.00 needed after the prompt" in why


@pytest.mark.parametrize("prompted", [None, PROMPT_MS])
def test_the_package_check_applies_the_rule_to_prompted_actions_only(prompted: int | None) -> None:
    # A recording mid-turn when the prompt goes out: a device-chosen window (no prompt time)
    # shows a turn; a server-driven one does not.
    signals = turning(span(700, 2400, 25.0))
    challenge = (ChallengeAction(ActionKind.TURN_LEFT, *WINDOW, prompted_ms=prompted),)
    seen, failure = challenge_verdict(challenge, signals, STAMPS)
    if prompted is None:
        assert failure == ""
        assert seen == (ActionSeen(kind="turn_left", level=25.0 / actions.TURN_DEGREES, frame=11),)
    else:
        assert seen == ()
        assert failure.startswith(
            "the claimed turn_left (action 0) is not visible in the frames 11–35 after its "
            "prompt at 1000 ms (it was under way"
        )
