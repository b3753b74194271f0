"""``facegate keys create|list|revoke|set``: API keys of the cloud API, from the command line;
``facegate data purge``: deleting stored uploads."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from facegate.settings import Settings
from facegate.store.blobs import BlobStore
from facegate.store.db import Database
from facegate.store.keys import KeyInfo, KeyStore, Limits

_DURATION = re.compile(r"^(\d+)([dhm])$")


def expiry(value: str) -> datetime:
    """``30d`` / ``12h`` / ``45m`` from now, or an ISO 8601 date or time (UTC if no zone)."""
    match = _DURATION.match(value)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}
        return datetime.now(UTC) + delta[unit]
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a duration (30d, 12h, 45m) nor an ISO date"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _endpoints(value: str) -> tuple[str, ...]:
    paths = tuple(p.strip() for p in value.split(",") if p.strip())
    for p in paths:
        if not p.startswith("/"):
            raise argparse.ArgumentTypeError(f"endpoint {p!r} must be a path starting with /")
    return paths


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def _positive_float(value: str) -> float:
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return x


def _store(settings: Settings) -> KeyStore:
    db = Database(settings.database)
    db.migrate()
    return KeyStore(db, settings.derived_key("api secrets"))


def _as_dict(k: KeyInfo) -> dict[str, Any]:
    return {
        "api_id": k.api_id,
        "name": k.name,
        "created_at": k.created_at.isoformat(),
        "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        "revoked": k.revoked_at is not None,
        "endpoints": list(k.endpoints) if k.endpoints is not None else None,
        "rate_per_second": k.rate_per_second,
        "quota_total": k.quota_total,
        "quota_daily": k.quota_daily,
        "used_total": k.used_total,
    }


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    limits = Limits(
        expires_at=args.expires,
        endpoints=args.endpoints,
        rate_per_second=args.rps,
        quota_total=args.quota,
        quota_daily=args.daily_quota,
    )
    info, secret = _store(settings).create(args.name, limits)
    if args.json:
        print(json.dumps({"api_id": info.api_id, "api_secret": secret}))
    else:
        print(f"api_id:     {info.api_id}\napi_secret: {secret}")
        print("The secret is shown this once; only a hash of it is stored.", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    keys = [_as_dict(k) for k in _store(settings).list()]
    if args.json:
        print(json.dumps(keys))
        return 0
    for k in keys:
        state = "revoked" if k["revoked"] else f"expires {k['expires_at'] or 'never'}"
        quota = f"{k['used_total']}/{k['quota_total'] if k['quota_total'] is not None else '∞'}"
        print(f"{k['api_id']}  {k['name'] or '-':20}  {state}  used {quota}")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if not _store(settings).revoke(args.api_id):
        print(f"facegate: no active key {args.api_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.api_id}")
    return 0


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    changes: dict[str, object] = {}
    for name in (
        "name",
        "expires_at",
        "endpoints",
        "rate_per_second",
        "quota_total",
        "quota_daily",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    for name in args.clear or ():
        changes[name] = None
    if not changes:
        print("facegate: nothing to set", file=sys.stderr)
        return 2
    info = _store(settings).update(args.api_id, **changes)
    if info is None:
        print(f"facegate: no key {args.api_id}", file=sys.stderr)
        return 1
    print(json.dumps(_as_dict(info)))
    return 0


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys of the cloud API: create, list, revoke, set")
    actions = keys.add_subparsers(dest="action", required=True)

    def limits(p: argparse.ArgumentParser, *, dest_prefix: str = "") -> None:
        p.add_argument(
            "--expires",
            dest=f"{dest_prefix}expires",
            type=expiry,
            default=None,
            help="when the key expires: 30d, 12h, 45m from now, or an ISO date",
        )
        p.add_argument(
            "--endpoints",
            type=_endpoints,
            default=None,
            help="comma-separated paths the key may call (default: all)",
        )
        p.add_argument(
            "--rps",
            dest=f"{dest_prefix}rps",
            type=_positive_float,
            default=None,
            help="requests per second (token bucket; default: unlimited)",
        )
        p.add_argument(
            "--quota",
            dest=f"{dest_prefix}quota",
            type=_positive_int,
            default=None,
            help="total calls allowed (default: unlimited)",
        )
        p.add_argument(
            "--daily-quota",
            dest=f"{dest_prefix}daily_quota",
            type=_positive_int,
            default=None,
            help="calls allowed per UTC day (default: unlimited)",
        )

    create = actions.add_parser("create", help="create a key; prints its secret once")
    create.add_argument("--name", default="", help="a label for people")
    limits(create)
    create.add_argument("--json", action="store_true", help='print {"api_id": …, "api_secret": …}')
    create.set_defaults(func=cmd_create)

    lst = actions.add_parser("list", help="list keys (never their secrets)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("api_id")
    revoke.set_defaults(func=cmd_revoke)

    st = actions.add_parser("set", help="change a key's name, expiry, endpoints or limits")
    st.add_argument("api_id")
    st.add_argument("--name", default=None)
    limits(st, dest_prefix="_")
    st.add_argument(
        "--clear",
        action="append",
        choices=["expires_at", "endpoints", "rate_per_second", "quota_total", "quota_daily"],
        help="turn a limit off (repeatable)",
    )
    st.set_defaults(func=_set_from_flags)


def _set_from_flags(args: argparse.Namespace, settings: Settings) -> int:
    args.expires_at = args._expires
    args.rate_per_second = args._rps
    args.quota_total = args._quota
    args.quota_daily = args._daily_quota
    return cmd_set(args, settings)


# --- facegate data ----------------------------------------------------------------------------
def build_blob_store(settings: Settings, db: Database | None = None) -> BlobStore:
    """The stored uploads as the server keeps them: ``<data dir>/blobs``, encrypted under the
    "blobs" key derived from the server key, kept ``blob_retention_days``. Without ``db``, the
    settings' database, migrated to the newest schema."""
    if db is None:
        db = Database(settings.database)
        db.migrate()
    return BlobStore(
        db,
        settings.data_path / "blobs",
        settings.derived_key("blobs"),
        timedelta(days=settings.blob_retention_days),
    )


def cmd_data_purge(args: argparse.Namespace, settings: Settings) -> int:
    blobs = build_blob_store(settings)
    try:
        if args.key is not None:
            key = KeyStore(blobs.db, settings.derived_key("api secrets")).get(args.key)
            if key is None:
                print(f"facegate: no key {args.key}", file=sys.stderr)
                return 1
            deleted = blobs.purge_key(key.id)
        else:
            deleted = blobs.purge_expired()
    finally:
        blobs.db.dispose()
    if args.json:
        print(json.dumps({"deleted": deleted}))
    else:
        print(f"deleted {deleted} stored upload{'' if deleted == 1 else 's'}")
    return 0


def add_data_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="stored uploads of the cloud API: purge")
    actions = data.add_subparsers(dest="action", required=True)
    purge = actions.add_parser(
        "purge", help="delete one key's stored uploads, or every expired one"
    )
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--key", metavar="API_ID", default=None, help="delete every upload of this API key"
    )
    which.add_argument(
        "--expired",
        action="store_true",
        help="delete the uploads past their retention (and files left without a row)",
    )
    purge.add_argument("--json", action="store_true", help='print {"deleted": N}')
    purge.set_defaults(func=cmd_data_purge)
