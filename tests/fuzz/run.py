"""Run one fuzz target under Atheris (libFuzzer): ``python -m tests.fuzz.run TARGET CORPUS
[libFuzzer flags]``, e.g. ``-max_total_time=10``. facegate's modules are instrumented for
coverage; the target's seeds are written into CORPUS first. A finding ends the run with a
non-zero status, the exception's traceback and the input saved as ``crash-*``."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["facegate"]):
    from tests.fuzz import targets


def main() -> None:
    name, corpus, *flags = sys.argv[1:]
    target = targets.TARGETS[name]
    folder = Path(corpus)
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(targets.seeds(name)):
        (folder / f"seed-{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *flags, str(folder)], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
