"""The SenseID-compatible HTTP API."""

from facegate.api.app import create_app

__all__ = ["create_app"]
