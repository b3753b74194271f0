"""Face embedders. Each has an ``id`` (its manifest entry) and ``embed(image, face)`` returning
an L2-normalised float32 vector; vectors of different embedders are never compared."""

from __future__ import annotations

from typing import Protocol

from facegate.core.types import Face, FloatArray, ImageArray


class Embedder(Protocol):
    id: str

    def embed(self, image: ImageArray, face: Face) -> FloatArray: ...
