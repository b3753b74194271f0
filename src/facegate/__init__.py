"""facegate: a self-hosted face verification and liveness service speaking the SenseID 1v1 API."""

import importlib.util

__version__ = "0.1.0"

SERVER_MISSING = (
    "this is facegate's client only (pip install facegate): the service, the models and the "
    "capture SDK come with pip install 'facegate[server]'"
)


def server_installed() -> bool:
    """Whether the ``server`` extra is installed (a client-only install has no models)."""
    return all(importlib.util.find_spec(m) is not None for m in ("fastapi", "cv2", "numpy"))
