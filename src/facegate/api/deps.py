"""Dependencies shared by the routers: the settings, the cipher and the engine (each route's
form is its own ``FormSpec``, in ``api/forms.py``).

They are stored on ``app.state`` by ``create_app`` (never module globals), so several apps with
different settings can live in one process, as the tests do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


SettingsDep = Annotated[Settings, Depends(get_settings)]
CipherDep = Annotated[Cipher, Depends(get_cipher)]
EngineDep = Annotated[InferenceEngine, Depends(get_engine)]
