"""Optional model packs: stronger models installed from a folder or a URL, not shipped in wheels.

A pack is a set of files listed in ``manifest.json`` under ``packs`` (models and their licence),
each with its sha256 and size. ``install_pack`` copies or downloads them into
``<packs_root>/<pack>/``, checking every file's sha256 before any of them is moved into place, so
an install either completes or leaves the folder as it was. The service never downloads anything
itself: it only finds installed packs (``Manifest.locate``) and checks them again before loading.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from facegate.vision.manifest import (
    Manifest,
    ModelIntegrityError,
    PackFile,
    load_manifest,
)

if TYPE_CHECKING:
    import httpx

# Seconds to open a connection, and to wait for each read, when installing from a URL.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
CHUNK = 1 << 20


class PackInstallError(ModelIntegrityError):
    """A pack could not be installed: a file is missing at the source, too large, or not the one
    the manifest lists; or the source could not be reached. Nothing was installed."""


def packs_root(model_dir: Path | None) -> Path:
    """Where model packs are installed: ``Settings.model_dir`` (``FACEGATE_MODEL_DIR``) when set,
    otherwise ``$XDG_DATA_HOME/facegate/models`` (``~/.local/share/facegate/models``)."""
    from facegate.settings import default_data_dir

    return model_dir if model_dir is not None else default_data_dir() / "models"


def pack_dir(name: str, model_dir: Path | None) -> Path:
    """The folder of pack ``name``: ``packs_root(model_dir) / name``."""
    return packs_root(model_dir) / name


def missing_files(name: str, root: Path, manifest: Manifest | None = None) -> list[str]:
    """The files of pack ``name`` absent from ``root / name`` (presence only, no sha256)."""
    pack = (manifest or load_manifest()).pack(name)
    return [f.name for f in pack.files if not (root / name / f.name).is_file()]


def installed_packs(root: Path, manifest: Manifest | None = None) -> list[str]:
    """The packs whose every file is present under ``root`` (use ``Manifest.verified_path`` or
    ``facegate models verify`` to check their sha256)."""
    manifest = manifest or load_manifest()
    return sorted(name for name in manifest.packs if not missing_files(name, root, manifest))


def install_pack(
    name: str, source: str, root: Path, *, manifest: Manifest | None = None
) -> list[Path]:
    """Install pack ``name`` from ``source`` (a local folder, or an ``http(s)://`` base URL whose
    files are fetched as ``<url>/<filename>``) into ``root / name``; returns the installed paths.

    Every file is streamed into a temporary file in the target folder while its sha256 and size
    are checked; only when all of them match the manifest are they renamed into place. On any
    error the temporary files are removed and the folder is left as it was. Installing again over
    an installed pack replaces the files with identical ones.
    """
    pack = (manifest or load_manifest()).pack(name)
    is_url = source.startswith(("http://", "https://"))
    if not is_url and not Path(source).expanduser().is_dir():
        raise PackInstallError(
            f"cannot install {name}: {source} is neither a folder nor an http(s):// URL"
        )
    target = root / name
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    try:
        if is_url:
            import httpx

            timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
            with httpx.Client(timeout=timeout, follow_redirects=True) as client:
                url_reader = _UrlReader(client, source)
                for f in pack.files:
                    staged.append(_stage(f, target, url_reader))
        else:
            local_reader = _LocalReader(Path(source).expanduser())
            for f in pack.files:
                staged.append(_stage(f, target, local_reader))
        installed = []
        for tmp, f in zip(staged, pack.files, strict=True):
            os.replace(tmp, target / f.name)
            installed.append(target / f.name)
        staged.clear()
        return installed
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()  # only if empty, i.e. the install failed


# sources ------------------------------------------------------------------------------------


class _Reader(Protocol):
    def origin(self, f: PackFile) -> str: ...

    def chunks(self, f: PackFile) -> AbstractContextManager[Iterator[bytes]]: ...


class _LocalReader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def origin(self, f: PackFile) -> str:
        return str(self.folder / f.name)

    @contextlib.contextmanager
    def chunks(self, f: PackFile) -> Iterator[Iterator[bytes]]:
        path = self.folder / f.name
        if not path.is_file():
            raise PackInstallError(f"cannot install {f.name}: {path} is missing")
        _check_size(f, path.stat().st_size, str(path))
        with path.open("rb") as fh:
            yield iter(lambda: fh.read(CHUNK), b"")


class _UrlReader:
    def __init__(self, client: httpx.Client, base: str) -> None:
        self.client = client
        self.base = base.rstrip("/")

    def origin(self, f: PackFile) -> str:
        return f"{self.base}/{quote(f.name)}"

    @contextlib.contextmanager
    def chunks(self, f: PackFile) -> Iterator[Iterator[bytes]]:
        import httpx

        url = self.origin(f)
        try:
            with self.client.stream("GET", url) as resp:
                if resp.status_code == 404:
                    raise PackInstallError(f"cannot install {f.name}: {url} is missing (404)")
                if resp.status_code != 200:
                    raise PackInstallError(
                        f"cannot install {f.name}: {url} answered HTTP {resp.status_code}"
                    )
                declared = resp.headers.get("content-length")
                if declared is not None and declared.isdigit():
                    _check_size(f, int(declared), url)
                # Errors while reading (a timeout, a dropped connection) are thrown in here.
                yield resp.iter_bytes(CHUNK)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise PackInstallError(f"could not fetch {url}: {reason}") from exc


def _stage(f: PackFile, target: Path, reader: _Reader) -> Path:
    """Copy one file into a temporary file in ``target`` and check its size and sha256 on the
    way; returns the temporary path (the caller renames or removes it)."""
    fd, name = tempfile.mkstemp(dir=target, prefix=f".{f.name}.", suffix=".part")
    tmp = Path(name)
    try:
        digest = hashlib.sha256()
        total = 0
        with os.fdopen(fd, "wb") as out, reader.chunks(f) as chunks:
            for chunk in chunks:
                total += len(chunk)
                _check_size(f, total, reader.origin(f))
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != f.sha256:
            raise PackInstallError(
                f"cannot install {f.name}: the sha256 of {reader.origin(f)} is "
                f"{digest.hexdigest()}, the manifest says {f.sha256}; nothing was installed"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; models are not secrets
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _check_size(f: PackFile, size: int, origin: str) -> None:
    if size > f.bytes:
        raise PackInstallError(
            f"cannot install {f.name}: {origin} has more than the {f.bytes} bytes "
            "the manifest lists"
        )
