"""Dependencies shared by the routers: the settings, the cipher, the engine and the parsed form.

They are stored on ``app.state`` by ``create_app`` (never module globals), so several apps with
different settings can live in one process, as the tests do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from facegate.api.forms import Form, read_form
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from facegate.worker.interface import InferenceEngine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_cipher(request: Request) -> Cipher:
    cipher: Cipher = request.app.state.cipher
    return cipher


def get_engine(request: Request) -> InferenceEngine:
    engine: InferenceEngine = request.app.state.engine
    return engine


async def get_form(request: Request) -> AsyncIterator[Form]:
    settings: Settings = request.app.state.settings
    # The middleware already refused bodies over the route's limit; parts cannot exceed it.
    limit = max(settings.max_body_bytes, settings.max_video_body_bytes)
    form = await read_form(request, limit)
    try:
        yield form
    finally:
        await form.data.close()  # multipart parts spill to temporary files


SettingsDep = Annotated[Settings, Depends(get_settings)]
CipherDep = Annotated[Cipher, Depends(get_cipher)]
EngineDep = Annotated[InferenceEngine, Depends(get_engine)]
FormDep = Annotated[Form, Depends(get_form)]
