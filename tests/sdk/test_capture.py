"""Capture → package → server, on every live clip: the SDK and the server agree on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facegate.core.crypto import Cipher
from facegate.core.package import ActionKind, FrameRole, LivenessPackage, Mode
from facegate.proto.codec import open_package, package_key
from facegate.sdk import cli
from facegate.sdk.capture import CaptureError, CaptureOptions, Capturer, video_frames
from facegate.settings import Settings
from tests.api.helpers import ok_body
from tests.conftest import lfw_photo
from tests.packages import frame_at, post_package, sealed


@pytest.fixture(scope="module")
def live_videos(videos: Path) -> list[Path]:
    return sorted((videos / "live").iterdir())


def verify(
    client: TestClient, cipher: Cipher, settings: Settings, pkg: LivenessPackage, photo: bytes
) -> float:
    body = ok_body(
        post_package(client, cipher, sealed(pkg, settings), photo),
        ["code", "verification_score", "request_id"],
    )
    score: float = body["verification_score"]
    return score


def test_silent_round_trip_on_every_live_clip(
    capturer: Capturer,
    client: TestClient,
    cipher: Cipher,
    settings: Settings,
    live_videos: list[Path],
    lfw: Path,
) -> None:
    other = lfw_photo(lfw, "Colin_Powell", 1).read_bytes()
    same_scores, other_scores = {}, {}
    for video in live_videos:
        pkg = capturer.capture(video_frames(video), CaptureOptions())
        assert pkg.mode is Mode.SILENT
        assert not pkg.challenge
        assert pkg.duration_ms >= 2500, video.name
        assert pkg.selected_index() is not None
        assert pkg.device_score is not None
        assert pkg.device_score > 0.4, video.name
        same_scores[video.name] = verify(client, cipher, settings, pkg, frame_at(video, 60.0))
        other_scores[video.name] = verify(client, cipher, settings, pkg, other)
    print("same person:", same_scores, "\nother person:", other_scores)  # shown with -s
    assert min(same_scores.values()) > 0.7, same_scores
    assert max(other_scores.values()) < 0.5, other_scores


def test_interactive_round_trip_where_the_clip_shows_the_action(
    capturer: Capturer,
    client: TestClient,
    cipher: Cipher,
    settings: Settings,
    live_videos: list[Path],
) -> None:
    """Each clip is asked for each action; where the SDK sees it, the server must confirm it.
    These are recorded clips, not people answering prompts, so only some show each action —
    but every action is shown by at least one clip, and blinks by all."""
    accepted: dict[str, list[str]] = {a.value: [] for a in ActionKind}
    for video in live_videos:
        for action in ActionKind:
            options = CaptureOptions(mode=Mode.INTERACTIVE, actions=(action,))
            try:
                pkg = capturer.capture(video_frames(video), options)
            except CaptureError:
                continue
            (claimed,) = pkg.challenge
            assert claimed.kind is action
            evidence = [i for i, f in enumerate(pkg.frames) if FrameRole.ACTION in f.roles]
            assert evidence == list(range(claimed.first_frame, claimed.last_frame + 1))
            score = verify(client, cipher, settings, pkg, frame_at(video, 60.0))
            assert score > 0.7, (video.name, action, score)
            accepted[action.value].append(video.name)
    print("accepted:", {k: len(v) for k, v in accepted.items()})  # shown with -s
    assert len(accepted["blink"]) == len(live_videos), accepted
    assert all(accepted.values()), accepted


def test_two_action_challenge(
    capturer: Capturer,
    client: TestClient,
    cipher: Cipher,
    settings: Settings,
    live_videos: list[Path],
) -> None:
    video = next(v for v in live_videos if v.name.startswith("liveportrait_d6"))
    options = CaptureOptions(
        mode=Mode.INTERACTIVE, actions=(ActionKind.BLINK, ActionKind.OPEN_MOUTH)
    )
    pkg = capturer.capture(video_frames(video), options)
    assert [a.kind for a in pkg.challenge] == [ActionKind.BLINK, ActionKind.OPEN_MOUTH]
    assert pkg.challenge[0].last_frame < pkg.challenge[1].first_frame
    assert verify(client, cipher, settings, pkg, frame_at(video, 60.0)) > 0.7


def test_random_challenge_is_drawn_from_the_actions() -> None:
    from facegate.sdk.capture import challenge_for

    drawn = {challenge_for(CaptureOptions(mode=Mode.INTERACTIVE, seed=s)) for s in range(30)}
    assert len(drawn) > 5
    assert all(len(c) == 2 and len(set(c)) == 2 for c in drawn)
    assert challenge_for(CaptureOptions()) == ()


def test_a_still_picture_never_completes_a_blink_challenge(
    capturer: Capturer, live_videos: list[Path]
) -> None:
    frame = next(video_frames(live_videos[0]))[1]
    still = ((i / 10.0, frame) for i in range(120))
    with pytest.raises(CaptureError, match="blink"):
        capturer.capture(still, CaptureOptions(mode=Mode.INTERACTIVE, actions=(ActionKind.BLINK,)))


def test_cli_capture_inspect_and_help(
    tmp_path: Path, live_videos: list[Path], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "session.fglv"
    video = live_videos[0]
    assert (
        cli.main(
            [
                "capture",
                "--video",
                str(video),
                "--mode",
                "interactive",
                "--actions",
                "blink",
                "--key",
                settings.decrypt_key,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    captured = json.loads(capsys.readouterr().out)
    assert captured["mode"] == "interactive"
    assert captured["challenge"][0]["action"] == "blink"
    opened = open_package(out.read_bytes(), package_key(settings.decrypt_key))
    assert len(opened.package.frames) == captured["frames"]
    assert cli.main(["inspect", str(out), "--key", settings.decrypt_key]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["nonce"] == opened.nonce.hex()
    assert cli.main(["inspect", str(out), "--key", "k" * 32]) == 1
    assert "different key" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for command in ("capture", "inspect", "verify"):
        assert f"facegate-sdk {command}" in help_text
