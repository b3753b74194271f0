"""A typed, synchronous Python client for facegate and other SenseID 1v1 servers.

::

    from facegate.sdk import FacegateClient

    with FacegateClient("http://127.0.0.1:3000", key=KEY, iv=IV) as fg:
        if fg.verify("a.jpg", "b.jpg").verification_score > 0.7:
            ...

The exceptions are documented in :mod:`facegate.sdk.errors`; all derive from
:class:`FacegateSDKError`.
"""

from __future__ import annotations

from facegate.sdk.client import (
    FacegateClient,
    FaceQuality,
    Health,
    HTTPClient,
    HTTPResponse,
    MultifaceVerification,
    Occlusion,
    Pose,
    QualityReport,
    Rect,
    SilentLiveness,
    SilentVerification,
    Source,
    Verification,
)
from facegate.sdk.errors import (
    APIError,
    ConnectError,
    FacegateSDKError,
    FaceOccluded,
    ImageRejected,
    InvalidArgument,
    InvalidVideo,
    LengthRequired,
    LivenessCheckFailed,
    LivenessDataRejected,
    NoFaceDetected,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    ServerError,
    Timeout,
    TransportError,
)

__all__ = [
    "APIError",
    "ConnectError",
    "FaceOccluded",
    "FaceQuality",
    "FacegateClient",
    "FacegateSDKError",
    "HTTPClient",
    "HTTPResponse",
    "Health",
    "ImageRejected",
    "InvalidArgument",
    "InvalidVideo",
    "LengthRequired",
    "LivenessCheckFailed",
    "LivenessDataRejected",
    "MultifaceVerification",
    "NoFaceDetected",
    "NotFound",
    "Occlusion",
    "PayloadTooLarge",
    "Pose",
    "ProtocolError",
    "QualityReport",
    "Rect",
    "ServerError",
    "SilentLiveness",
    "SilentVerification",
    "Source",
    "Timeout",
    "TransportError",
    "Verification",
]
