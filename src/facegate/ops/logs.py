"""Logging: one JSON object per line, each carrying the request id of the request it is about.

The request id lives in a context variable set by the request middleware, so every log call
made while handling a request (route, engine, remote worker client) gets it without passing it
around. Log calls must never carry image bytes, keys or embeddings: messages and ``extra``
fields hold codes, sizes, names and timings only.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Literal

LogFormat = Literal["json", "text"]

request_id_var: ContextVar[str | None] = ContextVar("facegate_request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def logging_config(fmt: LogFormat = "json", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for facegate and uvicorn (which applies it when
    given as ``log_config``). Uvicorn's access log is left off: the request middleware writes a
    richer one (code, duration, request id)."""
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "facegate.ops.logs.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "facegate": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
