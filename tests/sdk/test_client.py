"""The Python client against the real app (real models, real photos and clips), in process.

The app is reached through Starlette's TestClient (an httpx2 client) injected as ``http``;
network failures use a real ``httpx.Client`` on 127.0.0.1, and answers the app cannot give
(a 503, a proxy's HTML page) come from ``httpx.MockTransport``.
"""

from __future__ import annotations

import email
import email.policy
import pickle
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from facegate.core.crypto import Cipher
from facegate.core.results import ValidationError
from facegate.sdk import (
    APIError,
    ConnectError,
    FacegateClient,
    FacegateSDKError,
    FaceOccluded,
    Health,
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
from facegate.sdk.capture import Capturer
from facegate.settings import Settings
from tests.conftest import jpeg_bytes, lfw_photo, load_rgb
from tests.videos import encode_video, read_frames, wall

HEX32 = re.compile(r"^[0-9a-f]{32}$")
LIVENESS_VERIFY = "/identity/liveness_image_verification/stateless"
JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def fg(client: TestClient, settings: Settings) -> Iterator[FacegateClient]:
    with FacegateClient(
        "http://testserver", key=settings.decrypt_key, iv=settings.decrypt_iv, http=client
    ) as c:
        yield c


# --- results -------------------------------------------------------------------------------


@pytest.mark.models
@pytest.mark.data
def test_verify_same_person_high_other_person_low(fg: FacegateClient, lfw: Path) -> None:
    same = fg.verify(
        lfw_photo(lfw, "Colin_Powell", 1).read_bytes(), lfw_photo(lfw, "Colin_Powell", 3)
    )
    assert same.verification_score > 0.7
    assert HEX32.match(same.request_id)
    other = fg.verify(lfw_photo(lfw, "Tony_Blair", 1), lfw_photo(lfw, "Laura_Bush", 1))
    assert other.verification_score < 0.5
    assert other.request_id != same.request_id
    with pytest.raises(ValidationError, match="frozen"):
        same.verification_score = 1.0  # type: ignore[misc]


@pytest.mark.models
@pytest.mark.data
def test_path_inputs_random_nonce_and_no_iv(
    client: TestClient, settings: Settings, lfw: Path
) -> None:
    a, b = lfw_photo(lfw, "Tony_Blair", 2), lfw_photo(lfw, "Tony_Blair", 5)
    with FacegateClient(
        "http://testserver/",
        key=settings.decrypt_key,
        iv=settings.decrypt_iv,
        http=client,
        random_nonce=True,
    ) as nonce_client:
        assert nonce_client.verify(a, str(b), check_quality=True).verification_score > 0.7
    # Without an IV the client can only use the nonce form, which the server accepts.
    with FacegateClient("http://testserver", key=settings.decrypt_key, http=client) as no_iv:
        assert no_iv.verify(str(a), b, auto_rotate=True).verification_score > 0.7
    assert not client.is_closed  # an injected client is not the SDK's to close


@pytest.mark.models
@pytest.mark.data
def test_multiface_scores_and_rects(fg: FacegateClient, lfw: Path) -> None:
    left = load_rgb(lfw_photo(lfw, "Colin_Powell", 1))
    right = load_rgb(lfw_photo(lfw, "Laura_Bush", 1))
    pair = jpeg_bytes(np.concatenate([left, right], axis=1))  # 500×250, two faces
    # Laura_Bush_0002 shows a second person at its edge: the crop keeps her face only.
    subject = jpeg_bytes(load_rgb(lfw_photo(lfw, "Laura_Bush", 2))[50:200, 50:200].copy())
    result = fg.multiface_verify(pair, subject)
    assert len(result.first_image_face_rects) == 2
    assert len(result.second_image_face_rects) == 1
    powell, bush = result.first_image_face_rects
    assert powell.left < powell.right <= 260 <= bush.right
    assert bush.left >= 240
    assert all(r.top < r.bottom for r in result.first_image_face_rects)
    assert len(result.scores) == 2
    assert all(len(row) == 1 for row in result.scores)
    assert result.scores[0][0] < 0.5
    assert result.scores[1][0] > 0.7
    assert HEX32.match(result.request_id)


@pytest.mark.models
@pytest.mark.data
def test_quality_of_one_face(fg: FacegateClient, lfw: Path) -> None:
    report = fg.quality(lfw_photo(lfw, "Laura_Bush", 1))
    assert HEX32.match(report.request_id)
    (face,) = report.faces
    assert 0 <= face.rect.left < face.rect.right <= 250
    assert 0 <= face.rect.top < face.rect.bottom <= 250
    assert abs(face.pose.yaw) < 45
    assert abs(face.pose.roll) < 45
    assert face.occlusion.total > 0.5
    for value in (face.distance2center, face.size, face.sharpness, face.mouth_open):
        assert 0.0 <= value <= 1.0
    assert -1.0 <= face.brightness <= 1.0
    assert face.integrity > 0.5
    with pytest.raises(NoFaceDetected):
        fg.quality(jpeg_bytes(np.full((240, 320, 3), 128, np.uint8)))


@pytest.mark.models
@pytest.mark.data
def test_silent_liveness_of_a_live_clip(fg: FacegateClient, videos: Path) -> None:
    clip = videos / "live" / "tranvanluyt_real.mp4"
    full = fg.silent_liveness(clip, return_status=True, return_image=True, return_face_image=True)
    assert full.passed is True
    assert full.liveness_status == "ok"
    assert 0.0 <= full.liveness_score <= 1.0
    assert full.image_timestamp is not None
    assert 0.0 <= full.image_timestamp < 6.0
    assert full.image is not None
    assert full.image.startswith(JPEG_MAGIC)
    assert full.face_image is not None
    assert full.face_image.startswith(JPEG_MAGIC)
    assert len(full.face_image) < len(full.image)
    bare = fg.silent_liveness(clip.read_bytes())
    assert bare.passed is True
    assert (bare.liveness_status, bare.image, bare.face_image, bare.image_timestamp) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.models
@pytest.mark.data
def test_silent_verify_same_person(fg: FacegateClient, videos: Path) -> None:
    clip = videos / "live" / "tranvanluyt_real.mp4"
    later = read_frames(clip, 15.0, 0.1)[0]  # a frame outside the analysed window
    photo = jpeg_bytes(np.ascontiguousarray(later[..., ::-1]))
    result = fg.silent_verify(
        str(clip), photo, return_status=True, return_face_image=True, auto_rotate=True
    )
    assert result.passed is True
    assert result.liveness_status == "ok"
    assert result.verification_score is not None
    assert result.verification_score > 0.7
    assert result.image is None  # not asked for
    assert result.face_image is not None
    assert result.face_image.startswith(JPEG_MAGIC)
    assert HEX32.match(result.request_id)


@pytest.mark.models
def test_health(fg: FacegateClient) -> None:
    health = fg.health()
    assert health.status == "ok"
    assert health.request_id is not None
    assert HEX32.match(health.request_id)


# --- errors from real causes ---------------------------------------------------------------


@pytest.mark.models
@pytest.mark.data
def test_wrong_key_is_invalid_argument(client: TestClient, lfw: Path) -> None:
    with (
        FacegateClient(
            "http://testserver", key="0123456789abcdef" * 2, iv="df25d188a061", http=client
        ) as wrong,
        pytest.raises(InvalidArgument) as info,
    ):
        wrong.verify(lfw_photo(lfw, "Tony_Blair", 1), lfw_photo(lfw, "Tony_Blair", 2))
    err = info.value
    assert (err.code, err.http_status) == (1200, 400)
    assert "first_encrypted_image" in err.message
    assert err.request_id is not None
    assert HEX32.match(err.request_id)
    assert err.request_id in str(err)


@pytest.mark.models
@pytest.mark.data
def test_photo_errors(fg: FacegateClient, lfw: Path) -> None:
    good = lfw_photo(lfw, "Colin_Powell", 1).read_bytes()
    with pytest.raises(ImageRejected) as info:
        fg.verify(good[: len(good) // 3], good)
    assert info.value.code == 2005
    with pytest.raises(ImageRejected) as info:
        fg.multiface_verify(good[: len(good) // 3], good)
    assert info.value.code == 2006
    with pytest.raises(NoFaceDetected) as nf:
        fg.verify(good, jpeg_bytes(np.full((480, 640, 3), 200, np.uint8)))
    assert nf.value.code == 4000
    assert "second_encrypted_image" in nf.value.message
    rgb = load_rgb(lfw_photo(lfw, "Colin_Powell", 1)).copy()
    rgb[138:190, 88:162] = (196, 150, 120)  # a skin-coloured hand over the mouth and chin
    with pytest.raises(FaceOccluded) as occ:
        fg.verify(jpeg_bytes(rgb), lfw_photo(lfw, "Colin_Powell", 3), check_quality=True)
    assert occ.value.code == 4004


@pytest.mark.models
@pytest.mark.data
def test_video_errors(fg: FacegateClient, videos: Path, lfw: Path) -> None:
    short = encode_video(read_frames(videos / "live" / "liveportrait_d0.mp4", 0.0, 1.5))
    with pytest.raises(InvalidVideo) as info:
        fg.silent_liveness(short)
    assert info.value.code == 2008
    with pytest.raises(InvalidVideo):
        fg.silent_verify(short, lfw_photo(lfw, "Tony_Blair", 1))
    with pytest.raises(LivenessCheckFailed) as lc:
        fg.silent_liveness(encode_video(wall(2.5)))
    assert lc.value.code == 4007


@pytest.mark.models
def test_wrong_path_prefix_is_not_found(client: TestClient, settings: Settings) -> None:
    with FacegateClient(
        "http://testserver/senseid", key=settings.decrypt_key, iv=settings.decrypt_iv, http=client
    ) as prefixed:
        with pytest.raises(NotFound) as info:
            prefixed.quality(b"\xff\xd8\xff")
        assert (info.value.code, info.value.http_status) == (404, 404)
        with pytest.raises(NotFound):
            prefixed.health()


@pytest.mark.models
def test_body_over_the_limit_is_payload_too_large(fg: FacegateClient) -> None:
    with pytest.raises(PayloadTooLarge) as info:
        fg.quality(bytes(13 * 1024 * 1024))  # ~17.5 MB of base64: over the 16 MiB photo limit
    assert (info.value.code, info.value.http_status) == (413, 413)
    assert info.value.request_id is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_closed_port_is_connect_error(settings: Settings) -> None:
    port = _free_port()
    with FacegateClient(f"http://127.0.0.1:{port}", key=settings.decrypt_key) as fg:
        with pytest.raises(ConnectError) as info:
            fg.health()
        with pytest.raises(TransportError):
            fg.verify(b"x", b"y")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_silent_server_is_timeout(settings: Settings) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # the kernel accepts the connection; nobody ever answers
        port = server.getsockname()[1]
        with (
            FacegateClient(f"http://127.0.0.1:{port}", key=settings.decrypt_key, timeout=0.3) as fg,
            pytest.raises(Timeout) as info,
        ):
            fg.health()
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


@pytest.mark.models
@pytest.mark.data
def test_liveness_verify_round_trip_and_corrupt_package(
    fg: FacegateClient, settings: Settings, videos: Path, lfw: Path, capturer: Capturer
) -> None:
    from facegate.sdk.capture import CaptureOptions, video_frames
    from tests.packages import frame_at, sealed

    video = videos / "live" / "liveportrait_d11.mp4"
    package = capturer.capture(video_frames(video), CaptureOptions())
    result = fg.liveness_verify(sealed(package, settings), frame_at(video, 60.0))
    assert result.verification_score > 0.7
    assert len(result.request_id) == 32
    with pytest.raises(LivenessDataRejected) as info:
        fg.liveness_verify(b"not a liveness package" * 10, lfw_photo(lfw, "Tony_Blair", 1))
    assert info.value.code == 2007
    assert "not a facegate liveness package" in info.value.message


# --- wire format and answers the app cannot give (MockTransport) ---------------------------

KEY, IV = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> FacegateClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return FacegateClient("http://fg.example", key=KEY, iv=IV, http=http)


def multipart_fields(request: httpx.Request) -> dict[str, bytes]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + request.read(), policy=email.policy.HTTP)
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        out[name] = payload
    return out


def test_liveness_verify_sends_the_package_unchanged() -> None:
    package = bytes(range(256)) * 4
    photo = b"\xff\xd8\xff photo bytes"
    seen: dict[str, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == LIVENESS_VERIFY
        assert request.headers["content-type"].startswith("multipart/form-data")
        seen.update(multipart_fields(request))
        return httpx.Response(
            200, json={"code": 1000, "verification_score": 0.83, "request_id": "r1"}
        )

    with mock(handler) as fg:
        result = fg.liveness_verify(package, photo, check_quality=True)
    assert (result.verification_score, result.request_id) == (0.83, "r1")
    assert seen["liveness_file"] == package  # not encrypted a second time
    assert Cipher(KEY, IV).decrypt(seen["encrypted_image"].decode(), "x") == photo
    assert seen["auto_rotate"] == b"false"
    assert seen["check_quality"] == b"true"


def test_photos_are_urlencoded_in_the_manual_form() -> None:
    photo = b"some photo"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(httpx.QueryParams(request.read().decode()))
        # The manual form: the same bytes under the fixed IV always encrypt the same way.
        assert form["encrypted_image"] == Cipher(KEY, IV).encrypt(photo)
        return httpx.Response(200, json={"code": 1000, "faces": [], "request_id": "r2"})

    with mock(handler) as fg:
        assert fg.quality(photo).faces == ()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, text="<html>proxy</html>"), ProtocolError),
        (httpx.Response(200, json=[1, 2]), ProtocolError),
        (
            httpx.Response(200, json={"code": 1200, "message": "x", "request_id": "r"}),
            ProtocolError,
        ),
        (
            httpx.Response(200, json={"code": 1000, "faces": "none", "request_id": "r"}),
            ProtocolError,
        ),
        (httpx.Response(200, json={"code": 1000, "faces": []}), ProtocolError),
        (httpx.Response(400, text="Bad Request"), ProtocolError),
        (httpx.Response(400, json={"code": 9999, "message": "new", "request_id": "r"}), APIError),
        (
            httpx.Response(411, json={"code": 411, "message": "len", "request_id": "r"}),
            LengthRequired,
        ),
        (httpx.Response(404, text="<html>nginx 404</html>"), NotFound),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), ServerError),
        (
            httpx.Response(500, json={"code": 500, "message": "boom", "request_id": "r"}),
            ServerError,
        ),
    ],
)
def test_answers_map_to_the_documented_exceptions(
    response: httpx.Response, expected: type[FacegateSDKError]
) -> None:
    with mock(lambda _: response) as fg, pytest.raises(expected) as info:
        fg.quality(b"photo")
    assert type(info.value) is expected


def test_503_carries_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            headers={"Retry-After": "7", "X-Request-Id": "abc"},
            json={"code": 503, "message": "busy", "request_id": "abc"},
        )

    with mock(handler) as fg, pytest.raises(ServerError) as info:
        fg.health()
    err = info.value
    assert (err.code, err.http_status, err.retry_after, err.request_id) == (503, 503, 7.0, "abc")
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.retry_after, copy.message) == (ServerError, 7.0, "busy")


def test_health_of_a_worker_body_without_code() -> None:
    body = {"request_id": "07a41c21822e4223a373e77bfc186ed2", "status": "ok"}  # manual 4.2.3
    with mock(lambda _: httpx.Response(200, json=body)) as fg:
        assert fg.health() == Health("ok", body["request_id"])
    bad = httpx.Response(200, json={"code": 1200, "status": "ok"})
    with mock(lambda _: bad) as fg, pytest.raises(ProtocolError):
        fg.health()


def test_transport_errors_of_httpx_are_wrapped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    with mock(handler) as fg, pytest.raises(TransportError) as info:
        fg.health()
    assert type(info.value) is TransportError
    assert isinstance(info.value.__cause__, httpx.ReadError)


def test_exception_tree() -> None:
    for cls in (TransportError, ProtocolError, APIError):
        assert issubclass(cls, FacegateSDKError)
    assert issubclass(ConnectError, TransportError)
    assert issubclass(Timeout, TransportError)
    for cls in (
        InvalidArgument,
        ImageRejected,
        LivenessDataRejected,
        InvalidVideo,
        NoFaceDetected,
        FaceOccluded,
        LivenessCheckFailed,
        NotFound,
        LengthRequired,
        PayloadTooLarge,
        ServerError,
    ):
        assert issubclass(cls, APIError)
    err = pickle.loads(pickle.dumps(NoFaceDetected(4000, "detection failed", "r", 400)))
    assert (type(err), err.code, err.message, err.request_id) == (
        NoFaceDetected,
        4000,
        "detection failed",
        "r",
    )
