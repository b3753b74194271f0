"""The arguments every benchmark takes: its docstring as help, and ``--data``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with ``--data`` (default ``$FACEGATE_TEST_DATA`` or ``../shared/data``)."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACEGATE_TEST_DATA", "../shared/data"))
    )
    return ap
