"""Reading SenseID form parameters: urlencoded or multipart, strings or file parts.

Each endpoint declares its parameters once, in a ``FormSpec``: the spec is the route's form
dependency (it reads the body and refuses to hand out a parameter it does not declare) and the
route's OpenAPI request body, so the published description cannot drift from what is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from facegate.core.crypto import Cipher
from facegate.core.errors import Code, FacegateError
from facegate.core.stages import stage

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


Kind = Literal["encrypted", "flag", "file"]

_KIND_TEXT: dict[Kind, str] = {
    "encrypted": "AES-256-GCM with PARAM_DECRYPT_KEY, then base64: the manual's form under the "
    "fixed IV, or a 12-byte nonce before the ciphertext. As a form value, or as a multipart file "
    "part holding the base64 text; a `+` that arrived as a space (unescaped curl) is restored.",
    "flag": "`true`, `false`, `1` or `0`, in any case; empty or absent is false.",
    "file": "A multipart file part (binary).",
}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    about: str

    @property
    def required(self) -> bool:
        return self.kind != "flag"

    def schema(self, multipart: bool) -> dict[str, Any]:
        text = f"{self.about} {_KIND_TEXT[self.kind]}"
        if self.kind == "flag":
            return {"type": "string", "enum": ["true", "false", "1", "0", ""], "description": text}
        if self.kind == "file" or (multipart and self.kind == "encrypted"):
            # OpenAPI 3.1: a file part is a string with a media type of its own.
            binary = {"type": "string", "contentMediaType": "application/octet-stream"}
            if self.kind == "file":
                return {**binary, "description": text}
            return {"anyOf": [{"type": "string"}, binary], "description": text, "x-encrypted": True}
        return {"type": "string", "description": text, "x-encrypted": True}


@dataclass(frozen=True)
class FormSpec:
    """An endpoint's form parameters; as a FastAPI dependency it reads the body."""

    params: tuple[Param, ...]
    kinds: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", {p.name: p.kind for p in self.params})

    def openapi(self) -> dict[str, Any]:
        """``openapi_extra`` for the route: its request body, urlencoded or multipart."""
        content = {}
        for media, multipart in (
            ("application/x-www-form-urlencoded", False),
            ("multipart/form-data", True),
        ):
            content[media] = {
                "schema": {
                    "type": "object",
                    "properties": {p.name: p.schema(multipart) for p in self.params},
                    "required": [p.name for p in self.params if p.required],
                }
            }
        return {"requestBody": {"required": True, "content": content}}

    async def __call__(self, request: Request) -> AsyncIterator[Form]:
        settings = request.app.state.settings
        # The middleware already refused bodies over the route's limit; parts cannot exceed it.
        limit = max(settings.max_body_bytes, settings.max_video_body_bytes)
        form = await read_form(request, limit, self)
        try:
            yield form
        finally:
            await form.data.close()  # multipart parts spill to temporary files


@dataclass(frozen=True, slots=True)
class Form:
    data: FormData
    spec: FormSpec

    def _declared(self, name: str, kind: Kind) -> None:
        # A route may only read what its spec (and so its OpenAPI description) declares.
        if self.spec.kinds.get(name) != kind:
            raise LookupError(f"{name!r} is not a declared {kind} parameter of this endpoint")

    async def _text(self, name: str) -> str:
        """A required parameter as text; a multipart file part is read as text too."""
        value = self.data.get(name)
        if value is None:
            raise FacegateError(Code.INVALID_ARGUMENT, f"{name} is required")
        if isinstance(value, UploadFile):
            raw = await value.read()
            try:
                value = raw.decode("ascii")
            except UnicodeDecodeError:
                raise FacegateError(Code.INVALID_ARGUMENT, f"{name} must be base64 text") from None
        if not value.strip():
            raise FacegateError(Code.INVALID_ARGUMENT, f"{name} is empty")
        return value

    async def file(self, name: str, max_bytes: int) -> bytes:
        """A required binary parameter, sent as a multipart file part; at most ``max_bytes``
        are read (one more tells the caller it is over)."""
        self._declared(name, "file")
        value = self.data.get(name)
        if value is None:
            raise FacegateError(Code.INVALID_ARGUMENT, f"{name} is required")
        if not isinstance(value, UploadFile):
            raise FacegateError(
                Code.INVALID_ARGUMENT, f"{name} must be sent as a file part of multipart/form-data"
            )
        return await value.read(max_bytes + 1)

    def flag(self, name: str) -> bool:
        self._declared(name, "flag")
        value = self.data.get(name)
        if value is None or isinstance(value, UploadFile):
            if isinstance(value, UploadFile):
                raise FacegateError(
                    Code.INVALID_ARGUMENT, f"{name} must be a form value, not a file"
                )
            return False
        v = value.strip().lower()
        if v == "" or v in _FALSE:
            return False
        if v in _TRUE:
            return True
        raise FacegateError(Code.INVALID_ARGUMENT, f"{name} must be true, false, 1 or 0")

    async def encrypted(self, name: str, cipher: Cipher) -> bytes:
        self._declared(name, "encrypted")
        text = await self._text(name)
        with stage("decrypt"):
            return cipher.decrypt(text, name)


async def read_form(request: Request, max_part_size: int, spec: FormSpec) -> Form:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.headers.get("content-length") == "0":
        return Form(FormData(), spec)  # an empty body: report the first missing parameter by name
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise FacegateError(
            Code.INVALID_ARGUMENT,
            "send the parameters as application/x-www-form-urlencoded or multipart/form-data",
        )
    try:
        data = await request.form(max_files=8, max_fields=64, max_part_size=max_part_size)
    except Exception as exc:  # python-multipart raises several unrelated types for bad bodies
        raise FacegateError(
            Code.INVALID_ARGUMENT, f"the form body could not be parsed: {exc}"
        ) from exc
    # One rule with the cloud API: a parameter sent twice is refused, never silently the last.
    twice = [name for name, n in Counter(k for k, _ in data.multi_items()).items() if n > 1]
    if twice:
        await data.close()
        raise FacegateError(Code.INVALID_ARGUMENT, f"{twice[0]} is given more than once")
    return Form(data, spec)
