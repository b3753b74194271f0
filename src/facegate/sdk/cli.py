"""``facegate-sdk``: capture a liveness package, look inside one, and verify it against a photo.

The whole flow::

    facegate-sdk capture --video clip.mp4 --mode interactive -o session.fglv
    facegate-sdk inspect session.fglv
    facegate-sdk verify --liveness session.fglv --photo id.jpg --url http://127.0.0.1:3000

The key is the deployment's ``PARAM_DECRYPT_KEY`` (flag ``--key`` or the environment, as the
server reads it); the IV is needed only by ``verify`` for clients of the manual's fixed-IV form.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facegate import SERVER_MISSING, server_installed
from facegate.core.package import ActionKind, FrameRole, LivenessPackage, Mode


def _key(args: argparse.Namespace) -> str:
    # The server's own default (the manual's sample key, refused in production).
    from facegate.settings import MANUAL_DEFAULT_KEY

    key: str = args.key or os.environ.get("PARAM_DECRYPT_KEY") or MANUAL_DEFAULT_KEY
    return key


def _actions(text: str | None) -> tuple[ActionKind, ...] | None:
    if not text:
        return None
    try:
        return tuple(ActionKind(a.strip()) for a in text.split(",") if a.strip())
    except ValueError:
        names = ", ".join(a.value for a in ActionKind)
        raise SystemExit(
            f"facegate-sdk: --actions takes a comma-separated list of {names}"
        ) from None


def cmd_capture(args: argparse.Namespace) -> int:
    from facegate.compose import build_liveness
    from facegate.proto.codec import package_key, seal
    from facegate.sdk.capture import (
        CaptureError,
        CaptureOptions,
        Capturer,
        camera_frames,
        video_frames,
    )
    from facegate.settings import Settings

    settings = Settings(liveness_use_pack=False)
    capturer = Capturer(build_liveness(settings))
    options = CaptureOptions(
        mode=Mode(args.mode),
        actions=_actions(args.actions),
        challenge_length=args.challenge_length,
        device=args.device,
        seed=args.seed,
    )
    source = video_frames(args.video) if args.video else camera_frames(args.camera)

    def prompt(message: str) -> None:
        print(f"» {message}", file=sys.stderr)

    try:
        package = capturer.capture(source, options, prompt)
    except CaptureError as exc:
        print(f"facegate-sdk: capture failed: {exc}", file=sys.stderr)
        return 1
    data = seal(package, package_key(_key(args)))
    Path(args.output).write_bytes(data)
    summary = _summary(package)
    summary["file"] = {"path": args.output, "bytes": len(data)}
    print(json.dumps(summary, indent=2))
    return 0


def _summary(package: LivenessPackage) -> dict[str, Any]:
    return {
        "sdk": f"{package.sdk_name} {package.sdk_version}",
        "device": package.device,
        "captured_at": package.captured_at.isoformat(),
        "mode": package.mode.value,
        "frames": len(package.frames),
        "seconds": round(package.duration_ms / 1000, 2),
        "selected_frame": package.selected_index(),
        "action_frames": sum(FrameRole.ACTION in f.roles for f in package.frames),
        "challenge": [
            {"action": a.kind.value, "frames": [a.first_frame, a.last_frame]}
            for a in package.challenge
        ],
        "device_score": package.device_score,
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    from facegate.core.errors import FacegateError
    from facegate.proto.codec import open_package, package_key

    try:
        opened = open_package(Path(args.package).read_bytes(), package_key(_key(args)))
    except FacegateError as exc:
        print(f"facegate-sdk: {exc.message()}", file=sys.stderr)
        return 1
    summary = _summary(opened.package)
    summary["nonce"] = opened.nonce.hex()
    print(json.dumps(summary, indent=2))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from facegate.sdk.client import FacegateClient
    from facegate.sdk.errors import APIError, FacegateSDKError

    iv = args.iv or os.environ.get("PARAM_DECRYPT_IV")
    try:
        with FacegateClient(args.url, key=_key(args), iv=iv, timeout=args.timeout) as client:
            result = client.liveness_verify(
                Path(args.liveness).read_bytes(),
                Path(args.photo),
                auto_rotate=args.auto_rotate,
                check_quality=args.check_quality,
            )
    except APIError as exc:
        print(json.dumps({"code": exc.code, "message": exc.message, "request_id": exc.request_id}))
        return 1
    except FacegateSDKError as exc:
        print(f"facegate-sdk: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "code": 1000,
                "verification_score": result.verification_score,
                "request_id": result.request_id,
            }
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facegate-sdk",
        description=(
            "Capture a liveness package on this device and verify it against a photo on a "
            "facegate server. Flow: capture → inspect → verify."
        ),
        epilog=(
            "example:\n"
            "  facegate-sdk capture --video clip.mp4 --mode interactive -o session.fglv\n"
            "  facegate-sdk inspect session.fglv\n"
            "  facegate-sdk verify --liveness session.fglv --photo id.jpg "
            "--url http://127.0.0.1:3000\n"
            "The key is PARAM_DECRYPT_KEY (environment) or --key."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    cap = sub.add_parser("capture", help="capture a session and write the encrypted package")
    src = cap.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="a video file to read the session from")
    src.add_argument("--camera", type=int, help="a camera index (OpenCV) to capture from")
    cap.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.SILENT.value)
    cap.add_argument(
        "--actions",
        help="interactive: the challenge, e.g. blink,turn_left (default: random "
        + ", ".join(a.value for a in ActionKind)
        + ")",
    )
    cap.add_argument("--challenge-length", type=int, default=2, help="random challenge length")
    cap.add_argument("--seed", type=int, help="seed the random challenge (tests only)")
    cap.add_argument("--device", default="unknown", help="a description of this device")
    cap.add_argument("--key", help="the deployment key (default: $PARAM_DECRYPT_KEY)")
    cap.add_argument("-o", "--output", required=True, help="the package file to write")
    cap.set_defaults(func=cmd_capture)

    ins = sub.add_parser("inspect", help="decrypt a package and show what it holds")
    ins.add_argument("package")
    ins.add_argument("--key", help="the deployment key (default: $PARAM_DECRYPT_KEY)")
    ins.set_defaults(func=cmd_inspect)

    ver = sub.add_parser("verify", help="send a package and a photo to the server (1.3)")
    ver.add_argument("--liveness", required=True, help="the package file")
    ver.add_argument("--photo", required=True, help="the photo to compare with")
    ver.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:3000")
    ver.add_argument("--key", help="the deployment key (default: $PARAM_DECRYPT_KEY)")
    ver.add_argument(
        "--iv", help="PARAM_DECRYPT_IV; without it the photo uses the random-nonce form"
    )
    ver.add_argument("--auto-rotate", action="store_true")
    ver.add_argument("--check-quality", action="store_true")
    ver.add_argument("--timeout", type=float, default=60.0)
    ver.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not server_installed():
        print(f"facegate-sdk: {SERVER_MISSING}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
