"""Service settings, read from the environment (and a `.env` file) with pydantic-settings.

The decryption key and IV keep the SenseID names ``PARAM_DECRYPT_KEY`` / ``PARAM_DECRYPT_IV`` so
an existing deployment's environment works unchanged; everything else is ``FACEGATE_*``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal

import psutil
from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from facegate.core.crypto import IV_LENGTH, KEY_LENGTH
from facegate.core.limits import ImageLimits, VideoLimits
from facegate.core.package import ActionKind

# The manual's published defaults: fine for a trial, refused in production (see below).
MANUAL_DEFAULT_KEY = "dcbbad6765e14139a07d34b92292a672"
MANUAL_DEFAULT_IV = "df25d188a061"

KiB = 1024
MiB = 1024 * KiB


def physical_cores() -> int:
    """Physical cores this process may use: the manual sizes HANDLERS by physical cores, and a
    container's CPU affinity can be narrower than the machine."""
    physical = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    return max(1, min(physical, len(os.sched_getaffinity(0))))


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/facegate`` (``~/.local/share/facegate``): model packs, the database."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "facegate"


_SECRET_LENGTHS = {
    "decrypt_key": ("PARAM_DECRYPT_KEY", KEY_LENGTH, "AES-256"),
    "decrypt_iv": ("PARAM_DECRYPT_IV", IV_LENGTH, "GCM nonce"),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FACEGATE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        # The docstring under each field is its description, and docs/settings.md is made of them.
        use_attribute_docstrings=True,
    )

    decrypt_key: str = Field(
        MANUAL_DEFAULT_KEY, validation_alias=AliasChoices("PARAM_DECRYPT_KEY", "decrypt_key")
    )
    """The AES-256-GCM key of every encrypted parameter, exactly 32
    characters (the manual's published default is refused in production)."""
    decrypt_iv: str = Field(
        MANUAL_DEFAULT_IV, validation_alias=AliasChoices("PARAM_DECRYPT_IV", "decrypt_iv")
    )
    """The GCM nonce of the SenseID encryption, exactly 12 characters."""
    environment: Literal["development", "production"] = "development"
    """`production` refuses to start with the manual's published key and turns the API reference
    page off (unless `FACEGATE_API_DOCS` is true)."""
    api_docs: bool | None = None
    """Serve the API reference page at `/facegate/v1/docs` (Swagger UI, its assets served from
    this process, no CDN). Unset: on, except in production."""

    host: str = "0.0.0.0"  # noqa: S104 - a server is meant to listen on all interfaces
    """The address `facegate serve` listens on."""
    port: int = Field(3000, ge=1, le=65535)
    """The port `facegate serve` listens on (the manual's 3000)."""

    max_body_bytes: int = Field(16 * MiB, ge=1024)
    """The largest request body of the photo endpoints: two 5 MB photos, encrypted (+16 B),
    base64 (×4/3) and form-escaped, fit well under 16 MiB."""
    max_image_bytes: int = Field(5 * MiB, ge=1)
    """The largest photo, decrypted (the manual's 5 MB)."""
    min_image_side: int = Field(32, ge=1)
    """The shortest side a photo may have, in pixels."""
    max_image_side: int = Field(5000, ge=1)
    """The longest side a photo may have, in pixels (the manual's 5000)."""

    profile: Literal["default", "accurate", "dlib"] = "default"
    """The detector and embedders that answer, with their calibration (docs: Models)."""
    runtime: Literal["auto", "openvino", "opencv"] = "auto"
    """What runs SFace and the MiniFASNet pack: `auto` uses OpenVINO (SFace from its converted
    file, when its sha256 checks out), else OpenCV and ONNX Runtime, logged; `openvino` refuses
    to start without it; `opencv` runs the wheels' files as they are (docs: Models)."""
    detect_max_side: int = Field(640, ge=64, le=4096)
    """Detection runs on a copy whose longer side is at most this; landmarks are scaled back."""
    detect_coarse_side: int = Field(320, ge=64, le=4096)
    """1:1 comparisons look for the face on a copy at most this size first, and at
    `DETECT_MAX_SIDE` only when none, only small ones or two of similar size are found there
    (docs: Speed); at or above `DETECT_MAX_SIDE`, off."""
    detect_min_score: float = Field(0.6, gt=0.0, lt=1.0)
    """The detector's confidence below which a face is not a face."""
    occlusion_threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """A region whose visible fraction falls below this makes check_quality answer 4004."""
    max_faces: int = Field(20, ge=1, le=500)
    """Multi-face and quality answer for at most this many faces per photo (the largest ones),
    so a crowd photo costs bounded time."""
    inference_threads: int = Field(2, ge=1, le=64)
    """Threads that run model inference; each runs one image at a time."""

    max_video_bytes: int = Field(16 * MiB, ge=1)
    """The largest video, decrypted (the manual, operation chapter 3.2: 16 MB)."""
    min_video_side: int = Field(8, ge=1)
    """The shortest side a video may have, in pixels (the manual's 8)."""
    max_video_side: int = Field(5000, ge=1)
    """The longest side a video may have, in pixels (the manual's 5000)."""
    max_video_body_bytes: int = Field(32 * MiB, ge=1024)
    """The largest request body of the video and package endpoints: an encrypted, base64 and
    form-encoded video is about 1.4× the file."""
    liveness_window_seconds: float = Field(6.0, ge=2.0, le=60.0)
    """Only the first seconds of a video are analysed: enough for every cue, and it bounds the
    work a long upload can cause."""
    liveness_sample_fps: float = Field(10.0, ge=4.0, le=30.0)
    """Frames analysed per second of video (the rate the liveness fusion was fitted at)."""
    liveness_detect_side: int = Field(320, ge=160, le=1280)
    """Liveness detects faces on a copy of each frame this long."""
    liveness_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Unset: the threshold fitted with the fusion weights (`vision/liveness/*.json`)."""
    liveness_use_pack: bool = True
    """An installed MiniFASNet pack joins the fusion unless this is false."""

    max_package_bytes: int = Field(16 * MiB, ge=1024)
    """The largest liveness package (1.3)."""
    package_window_seconds: int = Field(3600, ge=10, le=30 * 86400)
    """A package's nonce is remembered this long so it cannot be used twice; one captured
    longer ago is refused as expired."""
    package_clock_skew_seconds: int = Field(300, ge=0, le=3600)
    """How far in the future a package may be dated (the capturing device's clock)."""
    redis_url: str | None = None
    """Shared state between API processes (seen package nonces, the cloud API's request-rate
    and failed-authentication buckets): `redis://host:port/db`. Unset: kept in this process."""

    # --- scale-out (docs/scale.md) ------------------------------------------------------------
    worker_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Inference workers (`facegate worker`) the API tier sends inference to, comma-separated.
    Empty: inference runs in the API process."""
    worker_dns: bool = False
    """Re-resolve each worker URL's host name and use every address it answers with (a
    Kubernetes headless Service), so workers added by an autoscaler are found."""
    worker_timeout_seconds: float = Field(30.0, gt=0.0, le=600.0)
    """One call to a worker, from connect to the last byte of its answer; past it the call is
    retried once on another worker."""
    worker_connect_timeout_seconds: float = Field(2.0, gt=0.0, le=60.0)
    """Connecting to a worker; past it the worker counts as down."""
    worker_health_interval_seconds: float = Field(2.0, gt=0.0, le=300.0)
    """How often the API tier asks each worker whether it is healthy."""
    handlers: int = Field(
        default_factory=physical_cores,
        ge=1,
        le=256,
        validation_alias=AliasChoices("HANDLERS", "FACEGATE_HANDLERS", "handlers"),
    )
    """A worker (or the API in-process, for the SenseID endpoints) computes this many requests
    at once (the manual's name and sizing; default: the physical cores) and lets at most
    `worker_queue` more wait; beyond that it answers "busy" (503, `Retry-After`) at once."""
    worker_queue: int | None = Field(None, ge=0, le=10_000)
    """Requests a worker, or the API in-process, lets wait (unset: 4 × `HANDLERS`)."""
    worker_port: int = Field(50050, ge=1, le=65535)
    """The port `facegate worker` listens on (the manual's 50050)."""

    # --- cloud API (seed 003) -------------------------------------------------------------------
    data_dir: Path | None = None
    """Where the database file and stored uploads live (unset: `$XDG_DATA_HOME/facegate`)."""
    database_url: str | None = None
    """SQLAlchemy URL (unset: SQLite at `<data_dir>/facegate.db`); PostgreSQL:
    `postgresql+psycopg://user:password@host/db`. The schema is migrated with Alembic."""
    server_key: str | None = Field(None, min_length=32)
    """The server's own secret (≥ 32 characters): the pepper of API-secret hashes and the key of
    uploads at rest. Unset: derived from `PARAM_DECRYPT_KEY`, which ties them to that key; set
    it in production so that the two can be rotated apart."""
    cloud_api: bool = True
    """Serve `/identity/liveness_selfie_verification` (keys: `facegate keys create`)."""
    blob_retention_days: int = Field(30, ge=1, le=3650)
    """Uploads kept for reuse by id (selfies, liveness packages) are deleted this long after
    their upload; `facegate data purge --expired` and the server both delete them."""
    auth_failure_burst: int = Field(10, ge=1, le=10_000)
    """Failed authentications per source address: a burst of this many, refilled over the
    window; past it the address gets RATE_LIMIT_EXCEEDED whatever it sends. Behind a proxy the
    source address is the client's only if the proxy is named in `FACEGATE_TRUSTED_PROXIES`."""
    auth_failure_window_seconds: float = Field(60.0, gt=0.0, le=86_400.0)
    """The window over which the failed-authentication burst refills."""
    http_max_head_bytes: int = Field(64 * KiB, ge=8 * KiB, le=MiB)
    """The largest request line and headers accepted; beyond it the answer is 431 and the
    connection is closed."""
    http_head_timeout_seconds: float = Field(10.0, gt=0.0, le=300.0)
    """A request's line and headers must arrive within this long of its first byte (or of the
    connection): else 408 and the connection is closed. Bodies are not limited by it."""
    http_max_connections: int = Field(1000, ge=1, le=100_000)
    """Connections open at once; one more is answered 503 with `Retry-After` and closed."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Addresses or CIDR networks of the reverse proxies whose `X-Forwarded-For` and
    `X-Forwarded-Proto` are believed (comma-separated). Empty: none, not even loopback, so a
    client's address is the connection's and a forged header cannot dodge a per-address limit."""
    fetch_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """URL inputs (`selfie_url`, `liveness_data_url`): private, loopback, link-local and
    metadata addresses are refused unless named here (CIDR networks, addresses or exact host
    names, comma-separated)."""
    fetch_connect_timeout_seconds: float = Field(3.0, gt=0.0, le=60.0)
    """Connecting to a URL input's host."""
    fetch_timeout_seconds: float = Field(10.0, gt=0.0, le=300.0)
    """Fetching a URL input, whole."""
    fetch_max_redirects: int = Field(3, ge=0, le=10)
    """Redirects followed when fetching a URL input (each one checked like the first URL)."""

    # --- browser capture sessions --------------------------------------------------------------
    session_capture_seconds: float = Field(3.0, ge=2.0, le=10.0)
    """How long a silent session films (the lead-in of an interactive one is 1 s)."""
    session_prompt_seconds: float = Field(2.5, ge=1.0, le=10.0)
    """The time given to perform each prompted action, from the prompt."""
    session_max_frame_bytes: int = Field(256 * KiB, ge=8 * KiB, le=4 * MiB)
    """The largest JPEG frame a session's stream accepts."""
    session_max_fps: float = Field(15.0, ge=5.0, le=30.0)
    """Frames per second a stream may send, at most (8 to 15 is what the web SDK sends)."""
    session_idle_seconds: float = Field(10.0, gt=0.0, le=120.0)
    """A stream that sends nothing for this long fails (the connection was lost)."""
    capture_demo: bool | None = None
    """Serve the capture demo page `/facegate/v1/capture/demo`, where a key typed in creates a
    session (unset: on unless `FACEGATE_ENVIRONMENT=production`). Never for real customers."""
    session_fixed_actions: Annotated[list[ActionKind], NoDecode] | None = None
    """Tests only: the prompts of interactive sessions in this order instead of at random."""

    # --- operations ---------------------------------------------------------------------------
    log_format: Literal["json", "text"] = "json"
    """One JSON object per line (with the request id), or text for a terminal."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """The least severe log records written."""
    drain_seconds: int = Field(30, ge=0, le=3600)
    """On SIGTERM a process stops accepting connections and finishes what it holds, for at most
    this long (keep Kubernetes' terminationGracePeriodSeconds above it)."""

    detailed_messages: bool = True
    """False keeps error messages to the manual's exact short text (for clients that match on
    it)."""
    model_dir: Path | None = None
    """Where model packs are installed (unset: `$XDG_DATA_HOME/facegate/models`)."""

    @field_validator("decrypt_key", "decrypt_iv")
    @classmethod
    def _exact_length(cls, value: str, info: ValidationInfo) -> str:
        name, length, why = _SECRET_LENGTHS[info.field_name or ""]
        if len(value.encode("utf-8")) != length:
            raise ValueError(
                f"{name} must be exactly {length} characters ({why}), got {len(value)}"
            )
        return value

    @field_validator(
        "worker_urls", "fetch_allow", "trusted_proxies", "session_fixed_actions", mode="before"
    )
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("worker_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"worker URL {url!r} must start with http:// or https://")
        return [url.rstrip("/") for url in value]

    @model_validator(mode="after")
    def _no_public_key_in_production(self) -> Settings:
        if self.environment == "production" and self.decrypt_key == MANUAL_DEFAULT_KEY:
            raise ValueError(
                "PARAM_DECRYPT_KEY is the manual's published default; set your own key in "
                "production (FACEGATE_ENVIRONMENT=production)"
            )
        if self.min_image_side > self.max_image_side:
            raise ValueError("FACEGATE_MIN_IMAGE_SIDE exceeds FACEGATE_MAX_IMAGE_SIDE")
        if self.min_video_side > self.max_video_side:
            raise ValueError("FACEGATE_MIN_VIDEO_SIDE exceeds FACEGATE_MAX_VIDEO_SIDE")
        return self

    @property
    def video_limits(self) -> VideoLimits:
        return VideoLimits(
            max_bytes=self.max_video_bytes,
            min_side=self.min_video_side,
            max_side=self.max_video_side,
            window_seconds=self.liveness_window_seconds,
            sample_fps=self.liveness_sample_fps,
            # Every target frame of the window: the motion cues assume the sampling rate.
            max_frames=math.ceil(self.liveness_window_seconds * self.liveness_sample_fps),
        )

    @property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir is not None else default_data_dir()

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_path / 'facegate.db'}"

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose ("api secrets", "blobs"), from the server key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        root = (self.server_key or self.decrypt_key).encode("utf-8")
        info = b"facegate server key: " + purpose.encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)

    @property
    def worker_queue_limit(self) -> int:
        return 4 * self.handlers if self.worker_queue is None else self.worker_queue

    @property
    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_image_bytes, self.min_image_side, self.max_image_side)
