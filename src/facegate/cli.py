"""``facegate``: serve the API, encrypt a file the way clients must, check the model files and
install optional model packs."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from facegate import SERVER_MISSING, server_installed

if TYPE_CHECKING:  # the settings need the server's extra; the module must import without it
    from facegate.settings import Settings


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


def server_options(settings: Settings) -> dict[str, Any]:
    """What the HTTP server is told beside the app: the bounds on request heads and connections
    (``ops.http``), and forwarded headers only from the proxies the settings name (uvicorn would
    otherwise believe any local process)."""
    from facegate.ops.http import bounded_protocol

    proxies = ",".join(settings.trusted_proxies)
    protocol = bounded_protocol(
        settings.http_max_head_bytes,
        settings.http_head_timeout_seconds,
        settings.http_max_connections,
    )
    return {
        "http": protocol,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


def _run_server(app: object, host: str, port: int, settings: object, *, keep_alive: int) -> None:
    import uvicorn

    from facegate.ops.logs import logging_config
    from facegate.settings import Settings

    assert isinstance(settings, Settings)
    # Uvicorn drains on SIGTERM, then re-raises the signal; a completed drain is a clean exit.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_config=logging_config(settings.log_format, settings.log_level),
        access_log=False,  # the request middleware writes the access log, with request ids
        timeout_keep_alive=keep_alive,
        # SIGTERM: stop accepting, finish the requests in flight, then exit.
        timeout_graceful_shutdown=settings.drain_seconds,
        **server_options(settings),
    )


def _serve_app(
    args: argparse.Namespace, port_field: str, factory: Callable[[Any], Any], keep_alive: int
) -> int:
    """Settings, JSON logging (before the models load, so start-up lines are JSON too), the
    app from ``factory(settings)``, then the server until SIGTERM has drained it."""
    import logging.config

    from facegate.ops.logs import logging_config
    from facegate.settings import Settings
    from facegate.vision.manifest import ModelIntegrityError

    settings = _settings(**({"log_level": args.log_level} if args.log_level else {}))
    assert isinstance(settings, Settings)
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else int(getattr(settings, port_field))
    logging.config.dictConfig(logging_config(settings.log_format, settings.log_level))
    try:
        app = factory(settings)
    except ModelIntegrityError as exc:
        print(f"facegate: {exc}", file=sys.stderr)
        return 3
    _run_server(app, host, port, settings, keep_alive=keep_alive)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from facegate.api.app import create_app

    return _serve_app(args, "port", create_app, keep_alive=5)


def cmd_worker(args: argparse.Namespace) -> int:
    from facegate.worker.service import create_worker_app

    # Idle connections outlive the API tier's expiry (10 s), so the API closes them first and
    # rarely reuses one the worker is closing.
    return _serve_app(args, "worker_port", create_worker_app, keep_alive=30)


def cmd_encrypt(args: argparse.Namespace) -> int:
    from facegate.core.crypto import Cipher
    from facegate.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    print(cipher.encrypt(data, random_nonce=args.nonce))
    return 0


def _model_dir(args: argparse.Namespace) -> Path | None:
    """``--model-dir`` when given, else ``Settings.model_dir`` (``FACEGATE_MODEL_DIR``)."""
    from facegate.settings import Settings

    if args.model_dir is not None:
        return Path(args.model_dir)
    settings = _settings()
    assert isinstance(settings, Settings)
    return settings.model_dir


def cmd_models(args: argparse.Namespace) -> int:
    from facegate.vision.convert import converted_bytes
    from facegate.vision.manifest import ModelIntegrityError, load_manifest, sha256_file
    from facegate.vision.packs import pack_dir

    manifest = load_manifest()
    model_dir = _model_dir(args)
    failed = 0
    for mid, spec in manifest.all_models().items():
        if spec.pack is not None and not (pack_dir(spec.pack, model_dir) / spec.path).is_file():
            # An optional pack that is not installed is no failure; a bad installed file is.
            hint = manifest.pack(spec.pack).install_hint
            print(f"{mid:28} {spec.task:10} {'not installed':16} ({hint})")
            continue
        try:
            path = manifest.locate(mid, model_dir)
            ok = sha256_file(path) == spec.sha256 if args.action == "verify" else True
            status = "ok" if ok else "SHA256 MISMATCH"
        except ModelIntegrityError as exc:
            ok, status, path = False, str(exc), Path("-")
        failed += not ok
        print(f"{mid:28} {spec.task:10} {status:16} {path}")
    for cid, conv in manifest.converted.items():
        # Made in memory at start-up, so verifying means making it: a build whose wheels or
        # onnx give another file fails here, not at the service's start.
        where = f"({conv.method} of {conv.source_model}, for {conv.runtime})"
        if args.action != "verify":
            print(f"{cid:28} {'converted':10} {'-':16} {where}")
            continue
        try:
            converted_bytes(manifest, conv, model_dir)
            status, ok = "ok", True
        except (ModelIntegrityError, ImportError) as exc:
            status, ok = " ".join(str(exc).split()), False
        failed += not ok
        print(f"{cid:28} {'converted':10} {status:16} {where}")
    return 1 if failed else 0


def cmd_models_install(args: argparse.Namespace) -> int:
    from facegate.vision.manifest import ModelIntegrityError, load_manifest
    from facegate.vision.packs import install_pack, packs_root

    manifest = load_manifest()
    root = packs_root(_model_dir(args))
    try:
        pack = manifest.pack(args.name)
        paths = install_pack(args.name, args.source, root, manifest=manifest)
    except (ModelIntegrityError, OSError) as exc:
        print(f"facegate: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    sha = {f.name: f.sha256 for f in pack.files}
    print(f"installed model pack {pack.name} ({pack.license}) into {root / pack.name}:")
    for path in paths:
        print(f"  {sha[path.name]}  {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facegate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="start the SenseID-compatible API (inference in-process, or on the workers "
        "FACEGATE_WORKER_URLS names)",
    )
    worker = sub.add_parser(
        "worker",
        help="start an inference worker for API tiers (HANDLERS requests at once)",
    )
    for p, port in ((serve, 3000), (worker, 50050)):
        p.add_argument("--host", default=None, help="address to listen on (default 0.0.0.0)")
        p.add_argument("--port", type=int, default=None, help=f"port (default {port})")
        p.add_argument(
            "--log-level",
            default=None,
            choices=["debug", "info", "warning", "error"],
            help="default: FACEGATE_LOG_LEVEL, else info",
        )
    serve.set_defaults(func=cmd_serve)
    worker.set_defaults(func=cmd_worker)

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

    models = sub.add_parser(
        "models", help="list the model files, verify their sha256, or install a model pack"
    )
    actions = models.add_subparsers(dest="action", required=True)
    model_dir_help = "where model packs live (default: FACEGATE_MODEL_DIR, else the data dir)"
    for action, text in (
        ("list", "list the models and where their files are"),
        ("verify", "check every present model file's sha256 (exit 1 on a mismatch)"),
    ):
        p = actions.add_parser(action, help=text)
        p.add_argument("--model-dir", default=None, help=model_dir_help)
        p.set_defaults(func=cmd_models)
    install = actions.add_parser(
        "install", help="install an optional model pack from a folder or an http(s) URL"
    )
    install.add_argument("name", help="the pack, e.g. minifasnet")
    install.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="DIR_OR_URL",
        help="a folder holding the pack's files, or a base URL serving them as URL/FILENAME",
    )
    install.add_argument("--model-dir", default=None, help=model_dir_help)
    install.set_defaults(func=cmd_models_install)

    from facegate.store import cli as store_cli

    store_cli.add_parser(sub)
    store_cli.add_data_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not server_installed():
        print(f"facegate: {SERVER_MISSING}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    if args.command in ("keys", "data"):
        from facegate.settings import Settings

        settings = _settings()
        assert isinstance(settings, Settings)
        keys_result: int = args.func(args, settings)
        return keys_result
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
