"""Sealing and opening liveness package files; the only module that touches the package's
protobuf types (the worker protocol's are in ``facegate.worker.wire``).

A package file is a fixed 29-byte header followed by the AES-256-GCM ciphertext of one
serialized ``facegate.v1.LivenessPackage`` message (``proto/facegate/v1/liveness.proto``)::

    offset  size  field
    0       4     magic b"FGLV"
    4       1     envelope version (1)
    5       8     key id: HMAC-SHA256(package key, b"facegate key id")[:8]
    13      12    nonce, random per package
    25      4     ciphertext length in bytes, unsigned big-endian (GCM tag included)
    29      n     ciphertext ‖ 16-byte GCM tag; the whole header is the associated data

Everything in the header is authenticated, yet each field is readable before decryption, so
a failure can be named: the magic says what the file is, the length field tells a truncated or
extended file from an altered one, and the key id tells a package sealed under another
deployment's key from an altered one. The key id is a fingerprint, not the key: 64 bits of
HMAC output reveal nothing usable about it.

The package key is derived from the deployment key (``PARAM_DECRYPT_KEY``) with HKDF, so the
same secret never serves both as the request-parameter key and as the package key.

Every failure to open a package is ``FacegateError(Code.CORRUPTED_LIVENESS_DATA)`` whose detail
says what exactly was wrong and, where it applies, which frame or action. JPEG frames are only
checked for their SOI marker here; decoding them is the server's business.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import struct
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from facegate.core.errors import Code, FacegateError
from facegate.core.package import (
    FORMAT_VERSION,
    ActionKind,
    ChallengeAction,
    FrameRole,
    LivenessPackage,
    Mode,
    OpenedPackage,
    PackageFrame,
    check_freshness,
)
from facegate.proto.facegate.v1 import liveness_pb2 as pb

MAGIC = b"FGLV"
ENVELOPE_VERSION = 1
KEY_LENGTH = 32
KEY_ID_LENGTH = 8
NONCE_LENGTH = 12
TAG_LENGTH = 16

_HEADER = struct.Struct(">4sB8s12sI")
HEADER_LENGTH = _HEADER.size  # 29
_MAX_CIPHERTEXT = 2**32 - 1

_HKDF_INFO = b"facegate liveness package v1"
_KEY_ID_MESSAGE = b"facegate key id"
_JPEG_SOI = b"\xff\xd8\xff"

_MODES: dict[pb.Mode, Mode] = {pb.MODE_SILENT: Mode.SILENT, pb.MODE_INTERACTIVE: Mode.INTERACTIVE}
_ACTIONS: dict[pb.ActionType, ActionKind] = {
    pb.ACTION_TYPE_BLINK: ActionKind.BLINK,
    pb.ACTION_TYPE_OPEN_MOUTH: ActionKind.OPEN_MOUTH,
    pb.ACTION_TYPE_TURN_LEFT: ActionKind.TURN_LEFT,
    pb.ACTION_TYPE_TURN_RIGHT: ActionKind.TURN_RIGHT,
    pb.ACTION_TYPE_NOD: ActionKind.NOD,
}
_ROLES: dict[pb.FrameRole, FrameRole] = {
    pb.FRAME_ROLE_SEQUENCE: FrameRole.SEQUENCE,
    pb.FRAME_ROLE_SELECTED: FrameRole.SELECTED,
    pb.FRAME_ROLE_ACTION: FrameRole.ACTION,
}
_MODES_PB = {v: k for k, v in _MODES.items()}
_ACTIONS_PB = {v: k for k, v in _ACTIONS.items()}
_ROLES_PB = {v: k for k, v in _ROLES.items()}


@dataclass(frozen=True, slots=True)
class PackageLimits:
    """What the server accepts; the defaults suit a few seconds of capture at a modest size."""

    max_bytes: int = 16 * 1024 * 1024  # the whole file
    max_frames: int = 300
    min_frames: int = 1
    max_frame_bytes: int = 2 * 1024 * 1024  # one frame's JPEG
    # Counts checked before anything is built from them: each entry costs work and memory, and
    # a capture has a handful (the web SDK prompts at most 4 actions).
    max_actions: int = 16
    max_extra: int = 32  # device metadata entries


DEFAULT_LIMITS = PackageLimits()


def package_key(deployment_key: str | bytes) -> bytes:
    """The package key derived from the 32-byte deployment key (UTF-8 bytes if ``str``)."""
    raw = deployment_key.encode("utf-8") if isinstance(deployment_key, str) else deployment_key
    if len(raw) != KEY_LENGTH:
        raise ValueError(f"the deployment key must be {KEY_LENGTH} bytes, got {len(raw)}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=None, info=_HKDF_INFO)
    return hkdf.derive(raw)


def key_id(key: bytes) -> bytes:
    """The non-secret 8-byte fingerprint of a package key written into every header."""
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).digest()[:KEY_ID_LENGTH]


def seal(
    package: LivenessPackage,
    key: bytes,
    *,
    nonce: bytes | None = None,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> bytes:
    """Serialize and encrypt ``package`` under the package ``key`` (see ``package_key``).

    The package must be one ``open_package`` would accept under ``limits``; otherwise
    ``ValueError`` says why. ``nonce`` is for tests and reproducible fixtures only: a nonce
    must never be used twice under one key.
    """
    _check_key(key)
    if nonce is None:
        nonce = os.urandom(NONCE_LENGTH)
    elif len(nonce) != NONCE_LENGTH:
        raise ValueError(f"the nonce must be {NONCE_LENGTH} bytes, got {len(nonce)}")
    message = _to_message(package)
    try:
        _validate(message, limits)
    except FacegateError as exc:
        raise ValueError(f"cannot seal an invalid liveness package: {exc.detail}") from None
    payload = message.SerializeToString(deterministic=True)
    return _seal_payload(payload, key, nonce)


def open_package(data: bytes, key: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> OpenedPackage:
    """Decrypt, parse and check a package file; any failure is code 2007 saying what and where."""
    _check_key(key)
    nonce, payload = _open_payload(data, key, limits)
    return OpenedPackage(nonce=nonce, package=parse_package(payload, limits))


class PackagePolicy(Protocol):
    """The settings a server applies to an uploaded package (``Settings`` has them)."""

    @property
    def max_package_bytes(self) -> int: ...
    @property
    def package_window_seconds(self) -> int: ...
    @property
    def package_clock_skew_seconds(self) -> int: ...


def open_fresh_package(
    data: bytes, key: bytes, policy: PackagePolicy, *, check_age: bool = True
) -> OpenedPackage:
    """``open_package`` within the size limit, then (``check_age``) the capture's age against
    the replay window: what the 1.3 route and the cloud API both do with an upload. Raises
    ``FacegateError`` 2007."""
    opened = open_package(data, key, PackageLimits(max_bytes=policy.max_package_bytes))
    if check_age:
        check_freshness(
            opened.package, policy.package_window_seconds, policy.package_clock_skew_seconds
        )
    return opened


def serialize_package(package: LivenessPackage) -> bytes:
    """The package as a plain serialized message, without the envelope: for the API tier to
    hand an opened package to a worker inside the cluster."""
    return _to_message(package).SerializeToString(deterministic=True)


def parse_package(payload: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> LivenessPackage:
    """Parse and check a serialized LivenessPackage message (no envelope): code 2007 on failure."""
    message = pb.LivenessPackage()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        raise _corrupted(
            f"the decrypted payload ({len(payload)} bytes) is not a valid LivenessPackage message"
        ) from None
    _validate(message, limits)
    return _from_message(message)


# --- envelope ---------------------------------------------------------------------------------


def _check_key(key: bytes) -> None:
    if len(key) != KEY_LENGTH:
        raise ValueError(f"the package key must be {KEY_LENGTH} bytes, got {len(key)}")


def _seal_payload(payload: bytes, key: bytes, nonce: bytes) -> bytes:
    length = len(payload) + TAG_LENGTH
    if length > _MAX_CIPHERTEXT:
        raise ValueError(f"the package is too large to seal ({len(payload)} bytes)")
    header = _HEADER.pack(MAGIC, ENVELOPE_VERSION, key_id(key), nonce, length)
    return header + AESGCM(key).encrypt(nonce, payload, header)


def _open_payload(data: bytes, key: bytes, limits: PackageLimits) -> tuple[bytes, bytes]:
    """The nonce and the plaintext of an envelope, or the reason it cannot be opened."""
    size = len(data)
    if size == 0:
        raise _corrupted("the package is empty (0 bytes)")
    if size > limits.max_bytes:
        raise _corrupted(f"the package is {size} bytes, over the limit of {limits.max_bytes}")
    if data[: len(MAGIC)] != MAGIC[:size]:
        raise _corrupted("not a facegate liveness package (bad magic)")
    if size > len(MAGIC) and data[len(MAGIC)] != ENVELOPE_VERSION:
        raise _corrupted(
            f"unknown envelope version {data[len(MAGIC)]} (this server reads {ENVELOPE_VERSION})"
        )
    if size < HEADER_LENGTH:
        raise _corrupted(
            f"truncated: {size} bytes, shorter than the {HEADER_LENGTH}-byte envelope header"
        )
    header = data[:HEADER_LENGTH]
    _, _, their_id, nonce, length = _HEADER.unpack(header)
    if not hmac.compare_digest(their_id, key_id(key)):
        raise _corrupted(f"the package was sealed under a different key (key id {their_id.hex()})")
    if length < TAG_LENGTH:
        raise _corrupted(
            f"the header declares {length} ciphertext bytes, fewer than the {TAG_LENGTH}-byte tag"
        )
    expected = HEADER_LENGTH + length
    if size < expected:
        raise _corrupted(f"truncated: {size} of {expected} bytes")
    if size > expected:
        raise _corrupted(f"{size - expected} trailing bytes after the {expected}-byte package")
    try:
        payload = AESGCM(key).decrypt(nonce, data[HEADER_LENGTH:], header)
    except InvalidTag:
        raise _corrupted("integrity check failed: the package was altered") from None
    return nonce, payload


def _corrupted(detail: str) -> FacegateError:
    return FacegateError(Code.CORRUPTED_LIVENESS_DATA, detail)


# --- message checks and conversion ------------------------------------------------------------


def _validate(m: pb.LivenessPackage, limits: PackageLimits) -> None:
    """Everything ``_from_message`` relies on, checked in the order a reader would care."""
    if m.format_version != FORMAT_VERSION:
        if m.format_version == 0:
            raise _corrupted("format_version is missing")
        raise _corrupted(
            f"unsupported format_version {m.format_version} (this server reads {FORMAT_VERSION})"
        )
    if not m.HasField("capture_time"):
        raise _corrupted("capture_time is missing")
    try:
        m.capture_time.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise _corrupted(
            f"capture_time is out of range ({m.capture_time.seconds} s, {m.capture_time.nanos} ns)"
        ) from None
    if m.mode not in _MODES:
        raise _corrupted("mode is unspecified" if m.mode == 0 else f"unknown mode {m.mode}")

    if len(m.challenge) > limits.max_actions:
        raise _corrupted(
            f"the challenge lists {len(m.challenge)} actions, more than the limit of "
            f"{limits.max_actions}"
        )
    if len(m.device.extra) > limits.max_extra:
        raise _corrupted(
            f"the device metadata has {len(m.device.extra)} entries, more than the limit of "
            f"{limits.max_extra}"
        )
    n = len(m.frames)
    if n == 0:
        raise _corrupted("the package holds no frames")
    if n < limits.min_frames:
        raise _corrupted(
            f"the package holds {n} frames, fewer than the minimum of {limits.min_frames}"
        )
    if n > limits.max_frames:
        raise _corrupted(
            f"the package holds {n} frames, more than the limit of {limits.max_frames}"
        )
    previous = 0
    for i, frame in enumerate(m.frames):
        if not frame.jpeg:
            raise _corrupted(f"frame {i} has no JPEG data")
        if len(frame.jpeg) > limits.max_frame_bytes:
            raise _corrupted(
                f"frame {i} is {len(frame.jpeg)} bytes, over the per-frame limit of "
                f"{limits.max_frame_bytes}"
            )
        if not frame.jpeg.startswith(_JPEG_SOI):
            raise _corrupted(f"frame {i} is not a JPEG (no SOI marker)")
        if len(frame.roles) > len(_ROLES):
            raise _corrupted(f"frame {i} lists {len(frame.roles)} roles; there are {len(_ROLES)}")
        for role in frame.roles:
            if role not in _ROLES:
                raise _corrupted(f"frame {i} has {_enum_problem('role', role)}")
        if i > 0 and frame.timestamp_ms <= previous:
            raise _corrupted(
                f"frame {i} timestamp {frame.timestamp_ms} ms is not after "
                f"frame {i - 1} ({previous} ms)"
            )
        previous = frame.timestamp_ms

    for j, action in enumerate(m.challenge):
        if action.type not in _ACTIONS:
            raise _corrupted(f"action {j} has {_enum_problem('type', action.type)}")
        if action.first_frame > action.last_frame:
            raise _corrupted(
                f"action {j}: first_frame {action.first_frame} is after "
                f"last_frame {action.last_frame}"
            )
        if action.last_frame >= n:
            raise _corrupted(
                f"action {j}: frames {action.first_frame}..{action.last_frame} are out of range "
                f"(the package holds {n} frames)"
            )
        if action.HasField("prompted_ms") and (
            action.prompted_ms > m.frames[action.first_frame].timestamp_ms
        ):
            raise _corrupted(
                f"action {j}: prompted at {action.prompted_ms} ms, after its first frame "
                f"({m.frames[action.first_frame].timestamp_ms} ms)"
            )

    if m.HasField("device_score"):
        score = m.device_score
        if math.isnan(score):
            raise _corrupted("device_score is NaN")
        if not 0.0 <= score <= 1.0:
            raise _corrupted(f"device_score {score:g} is outside [0, 1]")


def _enum_problem(name: str, value: int) -> str:
    return f"an unspecified {name}" if value == 0 else f"an unknown {name} ({value})"


def _from_message(m: pb.LivenessPackage) -> LivenessPackage:
    """The dataclass for a message that passed ``_validate``."""
    return LivenessPackage(
        sdk_name=m.sdk.name,
        sdk_version=m.sdk.version,
        device=m.device.description,
        captured_at=m.capture_time.ToDatetime(tzinfo=UTC),
        mode=_MODES[m.mode],
        frames=tuple(
            PackageFrame(
                jpeg=f.jpeg,
                timestamp_ms=f.timestamp_ms,
                roles=frozenset(_ROLES[r] for r in f.roles),
            )
            for f in m.frames
        ),
        challenge=tuple(
            ChallengeAction(
                kind=_ACTIONS[a.type],
                first_frame=a.first_frame,
                last_frame=a.last_frame,
                prompted_ms=a.prompted_ms if a.HasField("prompted_ms") else None,
            )
            for a in m.challenge
        ),
        device_score=_float32(m.device_score) if m.HasField("device_score") else None,
        format_version=m.format_version,
        extra=dict(m.device.extra),
    )


def _float32(value: float) -> float:
    """The shortest decimal that is the same float32, so that 0.7 comes back as 0.7."""
    return float(str(np.float32(value)))


def _to_message(p: LivenessPackage) -> pb.LivenessPackage:
    if p.captured_at.tzinfo is None or p.captured_at.utcoffset() is None:
        raise ValueError("captured_at must be a timezone-aware datetime")
    m = pb.LivenessPackage(
        format_version=p.format_version,
        sdk=pb.Sdk(name=p.sdk_name, version=p.sdk_version),
        device=pb.Device(description=p.device, extra=p.extra),
        mode=_MODES_PB[p.mode],
        challenge=[
            pb.ChallengeAction(
                type=_ACTIONS_PB[a.kind],
                first_frame=a.first_frame,
                last_frame=a.last_frame,
                prompted_ms=a.prompted_ms,
            )
            for a in p.challenge
        ],
        frames=[
            pb.Frame(
                jpeg=f.jpeg,
                timestamp_ms=f.timestamp_ms,
                roles=[_ROLES_PB[r] for r in FrameRole if r in f.roles],
            )
            for f in p.frames
        ],
    )
    m.capture_time.FromDatetime(p.captured_at)
    if p.device_score is not None:
        m.device_score = p.device_score
    return m
