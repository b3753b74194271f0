"""``facegate``: serve the API, encrypt a file the way clients must, check the model files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError


def _settings(**overrides: object) -> object:
    from facegate.settings import Settings

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        ]
        print(
            "facegate: invalid settings, refusing to start:\n" + "\n".join(lines), file=sys.stderr
        )
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from facegate.api.app import create_app
    from facegate.settings import Settings
    from facegate.vision.manifest import ModelIntegrityError

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    assert isinstance(settings, Settings)
    try:
        app = create_app(settings)
    except ModelIntegrityError as exc:
        print(f"facegate: {exc}", file=sys.stderr)
        return 3
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http="httptools",
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
    )
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    from facegate.core.crypto import Cipher
    from facegate.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    print(cipher.encrypt(data, random_nonce=args.nonce))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from facegate.vision.manifest import ModelIntegrityError, load_manifest, sha256_file

    manifest = load_manifest()
    failed = 0
    for mid, spec in manifest.models.items():
        try:
            path = manifest.locate(mid)
            ok = sha256_file(path) == spec.sha256 if args.action == "verify" else True
            status = "ok" if ok else "SHA256 MISMATCH"
        except ModelIntegrityError as exc:
            ok, status, path = False, str(exc), Path("-")
        failed += not ok
        print(f"{mid:28} {spec.task:10} {status:16} {path}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facegate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the SenseID-compatible API (inference in-process)")
    serve.add_argument("--host", default=None, help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default 3000)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    enc = sub.add_parser(
        "encrypt",
        help="print FILE encrypted with PARAM_DECRYPT_KEY/IV as base64, as clients must send it",
    )
    enc.add_argument("file", help="the file to encrypt, or - for standard input")
    enc.add_argument(
        "--nonce",
        action="store_true",
        help="use a fresh random nonce (nonce ‖ ciphertext ‖ tag) instead of the fixed IV",
    )
    enc.set_defaults(func=cmd_encrypt)

    models = sub.add_parser("models", help="list the model files or verify their sha256")
    models.add_argument("action", choices=["list", "verify"])
    models.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
