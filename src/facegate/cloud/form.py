"""Reading the cloud API's parameters from the query and a form body, strictly as UTF-8.

The manual answers a parameter that is not UTF-8 with ENCODING_ERROR. Starlette's form parser
cannot tell one: it decodes a bad text part as Latin-1 and a bad percent-escape as U+FFFD. So the
raw bytes are kept here and decoded strictly: urlencoded bodies and the query with the standard
library's ``parse_qsl``, multipart bodies with python-multipart's parser (the library Starlette
itself uses), streamed from the request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from python_multipart import create_form_parser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, parse_options_header
from starlette.requests import Request

from facegate.cloud.errors import CloudError, Status

# A request names at most nine parameters; a few more leave room for clients that add their own.
MAX_PARTS = 32


@dataclass(slots=True)
class CloudForm:
    texts: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # multipart parts sent as files

    def text(self, name: str) -> str | None:
        value = self.texts.get(name)
        return value if value is None else value.strip()

    def given(self, name: str) -> bool:
        """Whether the parameter is present and not empty (as a text or as a file part)."""
        if name in self.files:
            return True
        value = self.texts.get(name)
        return value is not None and value.strip() != ""

    def data(self, name: str) -> bytes | None:
        """A file parameter's bytes; a client may also send it as a plain multipart field."""
        if name in self.files:
            return self.files[name]
        value = self.texts.get(name)
        return value.encode("utf-8") if value is not None else None

    def flag(self, name: str) -> bool:
        value = (self.text(name) or "").lower()
        if value in ("", "false", "0"):
            return False
        if value in ("true", "1"):
            return True
        raise CloudError(Status.INVALID_ARGUMENT, f"{name} must be true or false")


def _strict(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CloudError(Status.ENCODING_ERROR, f"{what} is not UTF-8") from None


def _pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    text = _strict(raw, where)
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PARTS,
        )
    except UnicodeDecodeError:
        raise CloudError(Status.ENCODING_ERROR, f"a parameter in {where} is not UTF-8") from None
    except ValueError as exc:
        raise CloudError(Status.INVALID_ARGUMENT, f"{where}: {exc}") from None


class _Collector:
    def __init__(self, form: CloudForm) -> None:
        self.form = form
        self.parts = 0

    def name(self, raw: bytes | None) -> str:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise CloudError(Status.INVALID_ARGUMENT, f"more than {MAX_PARTS} form parts")
        name = _strict(raw or b"", "a parameter name")
        if name in self.form.texts or name in self.form.files:
            raise CloudError(Status.INVALID_ARGUMENT, f"{name} is given more than once")
        return name

    def on_field(self, part: Field) -> None:
        name = self.name(part.field_name)
        raw = part.value or b""
        if name.endswith("_file"):
            self.form.files[name] = raw
        else:
            self.form.texts[name] = _strict(raw, name)

    def on_file(self, part: File) -> None:
        name = self.name(part.field_name)
        handle = part.file_object
        handle.seek(0)
        self.form.files[name] = handle.read()
        part.close()


async def read_cloud_form(request: Request, max_body_bytes: int) -> CloudForm:
    """The query's and the body's parameters together; a name may appear once in all."""
    form = CloudForm()
    collector = _Collector(form)
    for name, value in _pairs(request.scope.get("query_string", b""), "the query string"):
        collector.name(name.encode())
        form.texts[name] = value

    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    if request.headers.get("content-length") in (None, "0") and not content_type:
        return form
    if content_type == b"application/x-www-form-urlencoded":
        for name, value in _pairs(await request.body(), "the form body"):
            collector.name(name.encode())
            form.texts[name] = value
        return form
    if content_type != b"multipart/form-data":
        raise CloudError(
            Status.INVALID_ARGUMENT,
            "send the parameters as multipart/form-data or application/x-www-form-urlencoded",
        )
    try:
        parser = create_form_parser(
            {"Content-Type": request.headers["content-type"].encode("latin-1")},
            collector.on_field,
            collector.on_file,
            # The middleware bounds the body, so parts stay in memory; none reaches a disk.
            config={"MAX_MEMORY_FILE_SIZE": max_body_bytes, "MAX_BODY_SIZE": max_body_bytes},
        )
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except CloudError:
        raise
    except (FormParserError, ValueError, io.UnsupportedOperation) as exc:
        raise CloudError(
            Status.INVALID_ARGUMENT, f"the multipart body could not be parsed: {exc}"
        ) from None
    return form
