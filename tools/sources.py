"""Who a clip or photo of the data folder shows: the *source* that evaluation keeps on one side.

A liveness fit is judged on people and cameras it never saw, so every sample — a live window,
a synthetic attack rendered from a clip or photo, a still — carries the source it comes from,
and leave-one-source-out cross-validation never puts one source on both sides.

Naming, from the file names of a folder shaped like ``../shared/data`` (no list of names):

* ``<collection>__<person>_<n>_<hash>`` (``wild/``): ``<collection>:<person>``; when the person
  part is missing, the whole stem (one clip, one source);
* ``<collection>__<person>``: ``<collection>:<person>``;
* any other clip (``video/``): the first ``_``-separated word of the stem, so
  ``liveportrait_d0`` … ``liveportrait_d14`` are one source (one project's demo clips),
  ``sadtalker_*`` another, and ``apfol_real2`` shares ``apfol`` with its replay ``apfol_fake2``;
* photos: ``nuaa:<subject>``, ``msu:<client>``, ``lfw:<Person_Name>`` (see ``photo_source``),
  grouped for evaluation into their data set (``collection_of``).
"""

from __future__ import annotations

import re
from pathlib import Path


def clip_source(path: str | Path) -> str:
    stem = Path(path).stem
    if "__" in stem:
        collection, rest = stem.split("__", 1)
        parts = rest.rsplit("_", 2)
        person = parts[0] if len(parts) == 3 else rest
        return f"{collection}:{person or stem}"
    return stem.split("_")[0]


def photo_source(dataset: str, path: str | Path) -> str:
    name = Path(path).name
    if dataset == "nuaa":
        return "nuaa:" + name.split("_")[0]
    if dataset == "msu":
        m = re.search(r"client\d+", name)
        return "msu:" + (m.group(0) if m else Path(path).stem)
    if dataset == "lfw":
        return "lfw:" + Path(path).parent.name
    raise ValueError(f"unknown photo data set {dataset!r}")


def collection_of(source: str) -> str:
    """The fold a source falls in: photo sets are one fold each (their people have no live
    clips here, so splitting them finer tests nothing more); clip sources are their own."""
    head = source.split(":", 1)[0]
    return head if head in ("nuaa", "msu", "lfw") else source
