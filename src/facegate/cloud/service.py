"""``/identity/liveness_selfie_verification`` (seed 003): the cloud API's one verification.

A request passes, in order:

1. the form, read strictly as UTF-8 (ENCODING_ERROR, INVALID_ARGUMENT);
2. the failed-authentication limit of its source address, then the key (UNAUTHORIZED,
   KEY_EXPIRED, RATE_LIMIT_EXCEEDED): every wrong secret takes a token from the address's
   bucket, so guessing secrets is slow whatever key is tried;
3. the key's permission and request rate (NO_PERMISSION, RATE_LIMIT_EXCEEDED);
4. the parameters: exactly one selfie source and one liveness-data source (INVALID_ARGUMENT);
5. one unit of quota, taken atomically in the database (OUT_OF_QUOTA). A call counts whatever its
   outcome, as the manual counts calls, except when the fault is ours (INTERNAL_ERROR): then the
   unit is given back;
6. the inputs, each from a file part, a URL (fetched by ``cloud.fetch``, never into the private
   network) or the id of an earlier upload of the same key (IMAGE_ID_NOT_EXIST otherwise);
7. the selfie's format and size, the package's seal, age and single use (WRONG_LIVENESS_DATA),
   then the server's check of the package beside the selfie's embedding, in the inference
   engine. ``hack_score`` comes from that check; ``verify_score`` is calibrated as on every
   other endpoint;
8. new uploads are stored, encrypted, and their ids returned for use in later requests.

A package sent as a file or URL must be fresh and unused (as on 1.3): a captured package cannot
be replayed. Once stored, its owner may use it again by id: the server holds it, and the id is
the proof that it was checked when it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from starlette.requests import Request

from facegate.cloud.errors import CLOUD_PATH, CloudError, Status
from facegate.cloud.fetch import FetchError, FetchOptions, SafeFetcher
from facegate.cloud.form import CloudForm, read_cloud_form
from facegate.cloud.limits import RateLimiter, build_rate_limiter
from facegate.cloud.selfie import MAX_SELFIE_BYTES, check_selfie
from facegate.core.errors import Code, FacegateError, UnavailableError
from facegate.core.package import OpenedPackage
from facegate.core.results import CloudResult
from facegate.proto.codec import open_fresh_package
from facegate.settings import Settings
from facegate.store.blobs import BlobCorruptError, BlobKind, BlobNotFoundError, BlobStore
from facegate.store.cli import build_blob_store
from facegate.store.db import Database
from facegate.store.keys import AccessDeniedError, KeyInfo, KeyStore
from facegate.store.replay import ReplayGuard
from facegate.store.sessions import SessionStore
from facegate.worker.interface import InferenceEngine, Photo, PhotoOptions

log = logging.getLogger("facegate.cloud")

SELFIE = ("selfie_file", "selfie_url", "selfie_image_id")
LIVENESS = ("liveness_data_file", "liveness_data_url", "liveness_data_id")
# Expired uploads are deleted this often (and by `facegate data purge --expired`).
PURGE_INTERVAL_SECONDS = 3600.0

_T = TypeVar("_T")

_ENGINE_STATUS: dict[Code, Status] = {
    Code.INVALID_IMAGE_SIZE: Status.INVALID_IMAGE_FORMAT_OR_SIZE,
    Code.INVALID_CONTENT_LENGTH: Status.IMAGE_FILE_SIZE_TOO_BIG,
    Code.INVALID_IMAGE_TYPE: Status.CORRUPT_IMAGE,
    Code.CORRUPTED_IMAGE: Status.CORRUPT_IMAGE,
    Code.DETECTION_FAILED: Status.NO_FACE_DETECTED,
    Code.CORRUPTED_LIVENESS_DATA: Status.WRONG_LIVENESS_DATA,
    Code.INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
}


@dataclass(frozen=True, slots=True)
class _Input:
    field: str  # the parameter it came from, for the ``image`` field of errors
    data: bytes
    stored_id: str | None  # set when it came from the store by id


@dataclass(frozen=True, slots=True)
class Stores:
    db: Database
    keys: KeyStore
    blobs: BlobStore
    sessions: SessionStore


def as_cloud_error(exc: BaseException) -> CloudError:
    """Any failure as the cloud API answers it; faults of ours are logged here."""
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, UnavailableError):
        return CloudError(
            Status.INTERNAL_ERROR,
            f"the service cannot take the request now ({exc.detail}); retry later",
            http_status=503,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, OperationalError):
        log.error("database unreachable", extra={"detail": str(exc.orig)})
        return CloudError(
            Status.INTERNAL_ERROR,
            "the database cannot be reached; retry later",
            http_status=503,
            retry_after=5,
        )
    log.error("internal error", exc_info=exc)
    return CloudError(Status.INTERNAL_ERROR, "internal error")


class _Gates:
    """One lock per key (a source address), held only while someone waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class CloudService:
    def __init__(
        self,
        settings: Settings,
        engine: InferenceEngine,
        replay_guard: ReplayGuard,
        package_key: bytes,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._replay_guard = replay_guard
        self._package_key = package_key
        self._limiter: RateLimiter = build_rate_limiter(settings.redis_url)

        def fetcher(max_bytes: int) -> SafeFetcher:
            options = FetchOptions(
                connect_timeout=settings.fetch_connect_timeout_seconds,
                total_timeout=settings.fetch_timeout_seconds,
                max_bytes=max_bytes,
                max_redirects=settings.fetch_max_redirects,
                allow=tuple(settings.fetch_allow),
            )
            return SafeFetcher(options)

        self._fetchers = {
            "selfie": fetcher(MAX_SELFIE_BYTES),
            "liveness": fetcher(settings.max_package_bytes),
        }
        # The selfie, the package and the form around them.
        self.max_body_bytes = MAX_SELFIE_BYTES + settings.max_package_bytes + 1024 * 1024
        self._stores: Stores | None = None
        self._auth_gates = _Gates()
        self._opening = asyncio.Lock()
        self._housekeeping: asyncio.Task[None] | None = None

    # --- life cycle -------------------------------------------------------------------------
    async def stores(self) -> Stores:
        """The database and blob store, opened (and migrated) on first use, so a deployment
        that never serves the cloud API never creates them."""
        if self._stores is None:
            async with self._opening:
                if self._stores is None:
                    self._stores = await asyncio.to_thread(self._open)
                    self._housekeeping = asyncio.create_task(self._purge_loop())
        return self._stores

    def _open(self) -> Stores:
        s = self._settings
        db = Database(s.database)
        db.migrate()
        keys = KeyStore(db, s.derived_key("api secrets"))
        return Stores(db, keys, build_blob_store(s, db), SessionStore(db))

    async def _purge_loop(self) -> None:
        while True:
            stores = self._stores
            if stores is not None:
                try:
                    n = await asyncio.to_thread(stores.blobs.purge_expired)
                    if n:
                        log.info("expired uploads deleted", extra={"deleted": n})
                except Exception:
                    log.exception("deleting expired uploads failed")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    async def aclose(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        for f in self._fetchers.values():
            await f.aclose()
        await self._limiter.aclose()
        if self._stores is not None:
            self._stores.db.dispose()

    # --- one request --------------------------------------------------------------------------
    async def handle(self, request: Request) -> CloudResult:
        """The answer but its ``request_id``; every failure raises ``CloudError``."""
        form = await read_cloud_form(request, self.max_body_bytes)
        stores = await self.stores()
        address = request.client.host if request.client else "unknown"
        api_id, secret = form.text("api_id") or "", form.text("api_secret") or ""
        key = await self.authenticate(stores, api_id, secret, address, CLOUD_PATH)
        selfie_field = _exactly_one(form, SELFIE)
        liveness_field = _exactly_one(form, LIVENESS)
        auto_rotate = form.flag("selfie_auto_rotate")

        today = await self.take_quota(stores, key)
        try:
            return await self._verify(stores, key, form, selfie_field, liveness_field, auto_rotate)
        except BaseException as exc:
            error = as_cloud_error(exc) if isinstance(exc, Exception) else None
            if error is None or error.status is Status.INTERNAL_ERROR:
                # Our fault (or the client went away): the call does not count.
                await asyncio.to_thread(stores.keys.refund_quota, key, today)
            if error is None:
                raise
            raise error from exc

    async def authenticate(
        self, stores: Stores, api_id: str, secret: str, address: str, path: str
    ) -> KeyInfo:
        """The key, if it may call ``path`` now: its secret (under the source address's
        failed-authentication limit), its permission, then its request rate."""
        key = await self._key(stores, api_id, secret, address)
        if key.endpoints is not None and path not in key.endpoints:
            raise CloudError(Status.NO_PERMISSION, f"this key may not call {path}")
        await self._within_rate(key)
        return key

    async def take_quota(self, stores: Stores, key: KeyInfo) -> date:
        """One unit of the key's quota (OUT_OF_QUOTA when none is left); the day it counts on."""
        today = datetime.now(UTC).date()
        used = await asyncio.to_thread(stores.keys.use_quota, key, today)
        if used != "ok":
            which = "total" if used == "total" else "daily"
            raise CloudError(Status.OUT_OF_QUOTA, f"the key's {which} quota is used up")
        return today

    async def _key(self, stores: Stores, api_id: str, secret: str, address: str) -> KeyInfo:
        if not api_id or not secret:
            raise CloudError(Status.UNAUTHORIZED, "api_id and api_secret are required")
        async with self._auth_gates.hold(address):
            return await self._check_secret(stores, api_id, secret, address)

    async def _check_secret(
        self, stores: Stores, api_id: str, secret: str, address: str
    ) -> KeyInfo:
        s = self._settings
        bucket = f"auth-failures:{address}"
        rate = s.auth_failure_burst / s.auth_failure_window_seconds
        # The token is taken before the secret is checked and given back unless it was wrong:
        # checking first and charging after would let a burst of concurrent guesses all pass
        # the check before any of them is charged. One address's checks take turns in each
        # process (the gate above), so its honest concurrent requests hold at most one token
        # per process at a time: they wait their turn, they are not refused.
        wait = await self._limiter.acquire(bucket, rate, s.auth_failure_burst)
        if wait > 0:
            raise CloudError(
                Status.RATE_LIMIT_EXCEEDED,
                "too many failed authentications from this address",
                retry_after=wait,
            )
        wrong = False
        try:
            return await asyncio.to_thread(stores.keys.authenticate, api_id, secret)
        except AccessDeniedError as exc:
            wrong = exc.status == "UNAUTHORIZED"
            raise CloudError(Status(exc.status), exc.reason) from None
        finally:
            if not wrong:
                await self._limiter.refund(bucket, rate, s.auth_failure_burst)

    async def _within_rate(self, key: KeyInfo) -> None:
        rate = key.rate_per_second
        if not rate:
            return
        # A second's worth of requests may come at once (at least one).
        wait = await self._limiter.acquire(f"key:{key.api_id}", rate, max(1.0, rate))
        if wait > 0:
            raise CloudError(
                Status.RATE_LIMIT_EXCEEDED,
                f"this key may make {rate:g} requests per second",
                retry_after=wait,
            )

    async def _verify(
        self,
        stores: Stores,
        key: KeyInfo,
        form: CloudForm,
        selfie_field: str,
        liveness_field: str,
        auto_rotate: bool,
    ) -> CloudResult:
        selfie, package_input = await _both(
            self._load(stores, key, form, selfie_field, "selfie"),
            self._load(stores, key, form, liveness_field, "liveness"),
        )
        check_selfie(selfie.data, selfie.field)
        opened = await asyncio.to_thread(self._open_package, package_input)  # CPU: off the loop
        if package_input.stored_id is None and not await self._replay_guard.first_use(opened.nonce):
            raise CloudError(
                Status.WRONG_LIVENESS_DATA,
                "this liveness data was already used: send a new capture, or the id of the "
                "stored one",
            )
        try:
            result = await self._engine.package_verify(
                opened.package,
                Photo(selfie.field, selfie.data),
                PhotoOptions(auto_rotate=auto_rotate),
            )
        except FacegateError as exc:
            raise _engine_error(exc, selfie.field, package_input.field) from None
        image_id = selfie.stored_id or await asyncio.to_thread(
            stores.blobs.put, key.id, "selfie", selfie.data
        )
        liveness_id = package_input.stored_id or await asyncio.to_thread(
            stores.blobs.put, key.id, "liveness", package_input.data
        )
        return CloudResult(
            hack_score=result.hack_score,
            verify_score=result.verification_score,
            liveness_data_id=liveness_id,
            image_id=image_id,
        )

    def _open_package(self, source: _Input) -> OpenedPackage:
        try:
            # A stored upload may be verified again by its owner, whatever its age.
            return open_fresh_package(
                source.data,
                self._package_key,
                self._settings,
                check_age=source.stored_id is None,
            )
        except FacegateError as exc:
            raise CloudError(Status.WRONG_LIVENESS_DATA, exc.detail) from None

    async def _load(
        self, stores: Stores, key: KeyInfo, form: CloudForm, field: str, kind: BlobKind
    ) -> _Input:
        if field.endswith("_file"):
            data = form.data(field) or b""
            limit = MAX_SELFIE_BYTES if kind == "selfie" else self._settings.max_package_bytes
            if len(data) > limit:
                raise CloudError(
                    Status.IMAGE_FILE_SIZE_TOO_BIG,
                    f"{len(data)} bytes; at most {limit} are accepted",
                    image=field,
                )
            if kind == "liveness" and not data:
                raise CloudError(Status.WRONG_LIVENESS_DATA, f"{field} is empty")
            return _Input(field, data, None)
        if field.endswith("_url"):
            url = form.text(field) or ""
            try:
                return _Input(field, await self._fetchers[kind].fetch(url), None)
            except FetchError as exc:
                log.info("fetch failed", extra={"image": field, "detail": exc.detail})
                status = {
                    "timeout": Status.DOWNLOAD_TIMEOUT,
                    "too_big": Status.IMAGE_FILE_SIZE_TOO_BIG,
                }.get(exc.kind, Status.DOWNLOAD_ERROR)
                raise CloudError(status, exc.reason, image=field) from None
        blob_id = form.text(field) or ""
        try:
            data = await asyncio.to_thread(stores.blobs.get, key.id, kind, blob_id)
        except BlobNotFoundError:
            raise CloudError(
                Status.IMAGE_ID_NOT_EXIST,
                f"no stored upload of this key has the id {blob_id[:64]!r}",
                image=field,
            ) from None
        except BlobCorruptError:
            log.error("stored upload fails authentication", extra={"blob_id": blob_id})
            raise CloudError(Status.INTERNAL_ERROR, "a stored upload is damaged") from None
        return _Input(field, data, blob_id)


def _exactly_one(form: CloudForm, names: tuple[str, ...]) -> str:
    given = [n for n in names if form.given(n)]
    if len(given) != 1:
        listed = ", ".join(names[:-1]) + " or " + names[-1]
        got = f" (got {', '.join(given)})" if given else ""
        raise CloudError(Status.INVALID_ARGUMENT, f"send exactly one of {listed}{got}")
    return given[0]


async def _both(first: Awaitable[_T], second: Awaitable[_T]) -> tuple[_T, _T]:
    """Both at once (two slow URLs cost one timeout); the first one's error wins, as its
    parameter comes first in the manual."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    a, b = results
    return a, b  # type: ignore[return-value]


def _engine_error(exc: FacegateError, selfie_field: str, liveness_field: str) -> CloudError:
    status = _ENGINE_STATUS.get(exc.code)
    if status is None:
        return as_cloud_error(exc)
    if status in (Status.WRONG_LIVENESS_DATA, Status.INVALID_ARGUMENT):
        return CloudError(status, exc.detail)  # no image to name
    field = getattr(exc, "field", None) or selfie_field
    return CloudError(status, exc.detail, image=field)
