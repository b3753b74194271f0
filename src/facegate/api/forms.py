"""Reading SenseID form parameters: urlencoded or multipart, strings or file parts."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from facegate.core.crypto import Cipher
from facegate.core.errors import Code, FacegateError
from facegate.core.stages import stage

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


@dataclass(frozen=True, slots=True)
class Form:
    data: FormData

    async def text(self, name: str) -> str:
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
        value = self.data.get(name)
        if value is None:
            raise FacegateError(Code.INVALID_ARGUMENT, f"{name} is required")
        if not isinstance(value, UploadFile):
            raise FacegateError(
                Code.INVALID_ARGUMENT, f"{name} must be sent as a file part of multipart/form-data"
            )
        return await value.read(max_bytes + 1)

    def flag(self, name: str) -> bool:
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
        text = await self.text(name)
        with stage("decrypt"):
            return cipher.decrypt(text, name)


async def read_form(request: Request, max_part_size: int) -> Form:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.headers.get("content-length") == "0":
        return Form(FormData())  # an empty body: report the first missing parameter by name
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
    return Form(data)
