"""The one declaration of each result: the API's JSON it gives (byte for byte the bodies the
manual prints, in its order and rounding), the bodies the OpenAPI document and the SDK use, and
the worker wire."""

from __future__ import annotations

import json
import math

import pytest

from facegate.core.results import (
    BODY_OF,
    ActionSeen,
    CloudResult,
    FaceQuality,
    FaceRects,
    LivenessOutcome,
    MultiFaceResult,
    MultifaceVerification,
    Occlusion,
    PackageVerifyResult,
    Pose,
    QualityReport,
    QualityResult,
    Rect,
    Result,
    SilentLiveness,
    SilentVerification,
    SilentVerifyResult,
    ValidationError,
    Verification,
    VerifyResult,
    from_wire,
    public,
    to_wire,
)


def text(result: Result, omit: frozenset[str] = frozenset()) -> str:
    # As the routes answer: {"code", ...public..., "request_id"} through Starlette's JSONResponse.
    body = {"code": 1000, **public(result, omit=omit), "request_id": "r"}
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def test_verify_is_the_score_to_six_digits() -> None:
    assert text(VerifyResult(verification_score=0.1 + 0.2)) == (
        '{"code":1000,"verification_score":0.3,"request_id":"r"}'
    )
    assert text(VerifyResult(verification_score=2 / 3)) == (
        '{"code":1000,"verification_score":0.666667,"request_id":"r"}'
    )


def test_a_package_verification_shows_only_its_score() -> None:
    result = PackageVerifyResult(
        verification_score=0.9364771,
        liveness_score=0.7,
        actions=(ActionSeen(kind="blink", level=1.5),),
        hack_score=0.1,
        attack="",
        refused_by="",
        evidence=("x",),
    )
    assert text(result) == '{"code":1000,"verification_score":0.936477,"request_id":"r"}'


def test_multiface_rects_are_corner_lists() -> None:
    result = MultiFaceResult(
        scores=[[1 / 3, 0.25]],
        face_rects=FaceRects(
            first_image_face_rects=[Rect.of((1, 2, 3, 4))],
            second_image_face_rects=[Rect.of((5, 6, 7, 8)), Rect.of((9, 10, 11, 12))],
        ),
    )
    assert text(result) == (
        '{"code":1000,"scores":[[0.333333,0.25]],"face_rects":{"first_image_face_rects":'
        '[[1,2,3,4]],"second_image_face_rects":[[5,6,7,8],[9,10,11,12]]},"request_id":"r"}'
    )


def test_quality_rounds_pose_to_two_digits_and_the_rest_to_four() -> None:
    face = FaceQuality(
        rect=Rect(left=10, top=20, right=110, bottom=140),
        pose=Pose(yaw=-3.14159, pitch=2 / 3, roll=0.005),
        occlusion=Occlusion(left_eye=1.0, right_eye=1 / 3, nose=0.99995, mouth=0.0, total=0.5),
        distance2center=0.123456,
        size=0.1,
        brightness=2 / 7,
        sharpness=0.5,
        mouth_open=1e-9,
        integrity=1.0,
    )
    assert text(QualityResult(faces=[face])) == (
        '{"code":1000,"faces":[{"rect":{"left":10,"top":20,"right":110,"bottom":140},'
        '"pose":{"yaw":-3.14,"pitch":0.67,"roll":0.01},"occlusion":{"left_eye":1.0,'
        '"right_eye":0.3333,"nose":1.0,"mouth":0.0,"total":0.5},"distance2center":0.1235,'
        '"size":0.1,"brightness":0.2857,"sharpness":0.5,"mouth_open":0.0,"integrity":1.0}],'
        '"request_id":"r"}'
    )


def liveness(**more: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "passed": True,
        "liveness_score": 0.8123456,
        "liveness_status": "ok",
        "refused_by": "",
        "evidence": (),
    }
    return {**fields, **more}


def test_liveness_fields_in_the_manuals_order_images_only_when_present() -> None:
    bare = LivenessOutcome.model_validate(liveness())
    assert text(bare) == (
        '{"code":1000,"passed":true,"liveness_score":0.812346,"liveness_status":"ok",'
        '"request_id":"r"}'
    )
    assert text(bare, frozenset({"liveness_status"})) == (
        '{"code":1000,"passed":true,"liveness_score":0.812346,"request_id":"r"}'
    )
    full = LivenessOutcome.model_validate(
        liveness(image_timestamp=1 / 3, image=b"\xff\xd8\xff", face_image=b"\x00")
    )
    assert text(full) == (
        '{"code":1000,"passed":true,"liveness_score":0.812346,"liveness_status":"ok",'
        '"image_timestamp":0.333,"base64_image":"/9j/","base64_face_image":"AA==",'
        '"request_id":"r"}'
    )


def test_silent_verification_puts_its_score_after_the_status_and_before_the_images() -> None:
    result = SilentVerifyResult.model_validate(
        liveness(verification_score=0.5, image_timestamp=2.0, image=b"\xff")
    )
    assert text(result) == (
        '{"code":1000,"passed":true,"liveness_score":0.812346,"liveness_status":"ok",'
        '"verification_score":0.5,"image_timestamp":2.0,"base64_image":"/w==","request_id":"r"}'
    )
    failed = SilentVerifyResult.model_validate(
        liveness(passed=False, liveness_status="hack", refused_by="replay", evidence=("edges",))
    )
    assert text(failed, frozenset({"liveness_status"})) == (
        '{"code":1000,"passed":false,"liveness_score":0.812346,"request_id":"r"}'
    )
    assert failed.liveness.refused_by == "replay"


def test_the_cloud_result_follows_its_request_id() -> None:
    result = CloudResult(hack_score=0.2100004, verify_score=0.9, liveness_data_id="a", image_id="b")
    body = {"request_id": "TID0", **public(result)}
    assert json.dumps(body) == (
        '{"request_id": "TID0", "status": "OK", "hack_score": 0.21, "verify_score": 0.9, '
        '"liveness_data_id": "a", "image_id": "b"}'
    )


@pytest.mark.parametrize("result_type", list(BODY_OF))
def test_each_body_is_the_results_shown_fields_between_code_and_request_id(
    result_type: type[Result],
) -> None:
    body = BODY_OF[result_type]
    names = [f.alias or name for name, f in body.model_fields.items()]
    shown = [f.alias or n for n, f in result_type.model_fields.items() if n in result_type.shown]
    inner = [n for n in names if n not in ("code", "request_id", "version")]
    assert inner == shown
    assert set(result_type.shown) <= set(result_type.model_fields)


def test_the_sdk_reads_an_answer_back_into_its_body() -> None:
    result = SilentVerifyResult.model_validate(
        liveness(verification_score=1 / 3, image_timestamp=1.0, image=b"\xff\xd8")
    )
    parsed = SilentVerification.model_validate_json(text(result), strict=True)
    assert parsed.image == b"\xff\xd8"
    assert parsed.verification_score == 0.333333
    assert parsed.request_id == "r"
    multi = MultifaceVerification.model_validate_json(
        '{"code":1000,"scores":[[0.5]],"face_rects":{"first_image_face_rects":[[1,2,3,4]],'
        '"second_image_face_rects":[]},"request_id":"r"}',
        strict=True,
    )
    assert multi.first_image_face_rects == (Rect(left=1, top=2, right=3, bottom=4),)


@pytest.mark.parametrize(
    "answer",
    [
        '{"code":1000,"verification_score":true,"request_id":"r"}',  # a flag is not a score
        '{"code":1000,"verification_score":"0.5","request_id":"r"}',  # nor is text
        '{"code":1000,"verification_score":1.5,"request_id":"r"}',  # outside [0, 1]
        '{"code":1000,"request_id":"r"}',  # missing
        '{"code":1000,"verification_score":0.5}',  # no request id
        '{"code":1000,"verification_score":0.5,"request_id":"r","extra":1}',
    ],
)
def test_an_answer_that_is_not_its_body_is_refused(answer: str) -> None:
    with pytest.raises(ValidationError):
        Verification.model_validate_json(answer, strict=True)


def test_a_rect_is_four_integers() -> None:
    for rects in ("[[1,2,3]]", "[[1,2,3,4.5]]", "[[true,2,3,4]]", '[{"left":1}]'):
        with pytest.raises(ValidationError):
            MultifaceVerification.model_validate_json(
                '{"code":1000,"scores":[],"face_rects":{"first_image_face_rects":'
                + rects
                + ',"second_image_face_rects":[]},"request_id":"r"}',
                strict=True,
            )
    with pytest.raises(ValidationError):
        QualityReport.model_validate_json(
            '{"code":1000,"faces":[{"rect":[1,2,3,4]}],"request_id":"r"}', strict=True
        )


def test_the_images_are_standard_base64() -> None:
    with pytest.raises(ValidationError):
        SilentLiveness.model_validate_json(
            '{"code":1000,"passed":true,"liveness_score":0.5,"base64_image":"_-8=",'
            '"request_id":"r"}',
            strict=True,
        )


def test_the_wire_keeps_what_the_api_rounds_and_hides() -> None:
    result = SilentVerifyResult.model_validate(
        liveness(verification_score=1 / 3, refused_by="x", evidence=("a", "b"))
    )
    back = from_wire(SilentVerifyResult, to_wire(result))
    assert back == result
    assert back.verification_score == 1 / 3
    assert back.evidence == ("a", "b")
    assert math.isclose(back.liveness_score, 0.8123456, rel_tol=0, abs_tol=0)
