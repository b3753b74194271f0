"""The inference interface the API calls, and its in-process implementation.

Route handlers only ever see ``InferenceEngine``; a remote worker client will implement the same
protocol so that handlers do not change when inference moves to port 50050.
"""

from facegate.worker.interface import InferenceEngine, Photo, PhotoOptions
from facegate.worker.local import LocalEngine

__all__ = ["InferenceEngine", "LocalEngine", "Photo", "PhotoOptions"]
