"""Fuzz targets: each parser of attacker bytes, given arbitrary bytes, either returns or raises
the refusal it documents. Anything else (another exception, a crash, a hang, memory beyond the
run's limit) is a finding. ``tests/fuzz/run.py`` drives them with Atheris (coverage-guided);
``seeds`` gives each a valid input to start from.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from datetime import UTC, datetime

import av
import cv2
import numpy as np

from facegate.core.crypto import Cipher
from facegate.core.errors import FacegateError, UnavailableError
from facegate.core.limits import ImageLimits, VideoLimits
from facegate.core.media import decode_image
from facegate.core.package import ActionKind, ChallengeAction, LivenessPackage, Mode, PackageFrame
from facegate.core.video import decode_video
from facegate.proto import codec
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions

KEY = codec.package_key("fuzz" * 8)
NONCE = bytes(12)
CIPHER = Cipher("0123456789abcdef0123456789abcdef", "0123456789ab")
# Small limits keep each execution cheap; the rules exercised are the same.
VIDEO_LIMITS = VideoLimits(max_bytes=1 << 20, max_decoded_pixels=64 * 320 * 240, max_packets=500)


def package_payload(data: bytes) -> None:
    """The package's message after decryption: protobuf parsing, then every check."""
    try:
        codec.open_package(codec._seal_payload(data, KEY, NONCE), KEY)
    except FacegateError as exc:
        if int(exc.code) != 2007:
            raise


def package_file(data: bytes) -> None:
    """The whole file: envelope, lengths, key id, authentication."""
    try:
        codec.open_package(data, KEY)
    except FacegateError as exc:
        if int(exc.code) != 2007:
            raise


def image(data: bytes) -> None:
    """The image probe and decoder (format sniffing, header checks, scans, EXIF)."""
    with contextlib.suppress(FacegateError):
        decode_image(data, ImageLimits(max_bytes=1 << 20))


def video(data: bytes) -> None:
    """The video front end (container sniffing, demuxing, decoding within the work bounds)."""
    try:
        decode_video(data, VIDEO_LIMITS)
    except FacegateError as exc:
        if int(exc.code) != 2008:
            raise
    except UnavailableError:
        pass


def secret(data: bytes) -> None:
    """A SenseID parameter: base64 in its tolerated forms, then AES-256-GCM."""
    try:
        CIPHER.decrypt(data, "encrypted_image")
    except FacegateError as exc:
        if int(exc.code) != 1200:
            raise


def worker_request(data: bytes) -> None:
    """The worker's request bodies (protobuf), as another process's bytes arrive."""
    for parse in (wire.parse_pair_request, wire.parse_package_verify_request,
                  wire.parse_silent_liveness_request):  # fmt: skip
        with contextlib.suppress(wire.WireError, FacegateError):
            parse(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "package_payload": package_payload,
    "package_file": package_file,
    "image": image,
    "video": video,
    "secret": secret,
    "worker_request": worker_request,
}


def _jpeg(side: int = 32) -> bytes:
    pixels = np.zeros((side, side, 3), np.uint8)
    cv2.circle(pixels, (side // 2, side // 2), side // 3, (200, 150, 120), -1)
    ok, buf = cv2.imencode(".jpg", pixels)
    assert ok
    return bytes(np.asarray(buf).tobytes())


def _video() -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as box:
        stream = box.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(25):
            frame = np.full((48, 64, 3), 10 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def seeds(name: str) -> list[bytes]:
    """Valid inputs for target ``name``, for the fuzzer to mutate."""
    jpeg = _jpeg()
    package = LivenessPackage(
        "fuzz", "1", "seed", datetime(2026, 1, 1, tzinfo=UTC), Mode.INTERACTIVE,
        tuple(PackageFrame(jpeg, 100 * i) for i in range(4)),
        (ChallengeAction(ActionKind.NOD, 1, 2, prompted_ms=50),),
    )  # fmt: skip
    sealed = codec.seal(package, KEY, nonce=NONCE)
    if name == "package_payload":
        return [codec._to_message(package).SerializeToString()]
    if name == "package_file":
        return [sealed]
    if name == "image":
        return [jpeg, cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()]
    if name == "video":
        return [_video()]
    if name == "secret":
        return [CIPHER.encrypt(jpeg).encode()]
    if name == "worker_request":
        photo = Photo("encrypted_image", jpeg)
        return [wire.pair_request(photo, photo, PhotoOptions())]
    raise KeyError(name)
