"""Shared by the liveness-package tests: a capturer on the default models, and the 1.3 call."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from facegate.core.crypto import Cipher
from facegate.core.package import LivenessPackage
from facegate.proto.codec import package_key, seal
from facegate.sdk.capture import still_from_video
from facegate.settings import Settings

LIVENESS_VERIFY = "/identity/liveness_image_verification/stateless"


def sealed(package: LivenessPackage, settings: Settings) -> bytes:
    """A fresh file for ``package``: every call draws a new nonce, as a new capture would."""
    return seal(package, package_key(settings.decrypt_key))


def post_package(client: Any, cipher: Cipher, data: bytes, photo: bytes, **flags: str) -> Any:
    return client.post(
        LIVENESS_VERIFY,
        files={"liveness_file": ("session.fglv", data, "application/octet-stream")},
        data={"encrypted_image": cipher.encrypt(photo), **flags},
    )


@functools.cache
def frame_at(video: Path, seconds: float) -> bytes:
    """Another photo of the clip's person: a frame after the seconds a capture uses."""
    return still_from_video(video, seconds)
