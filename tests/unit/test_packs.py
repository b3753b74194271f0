"""Model packs: install from a folder or a URL, refuse anything the manifest does not list."""

from __future__ import annotations

import functools
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from facegate.cli import main
from facegate.vision.manifest import ModelIntegrityError, load_manifest, sha256_file
from facegate.vision.packs import (
    PackInstallError,
    install_pack,
    installed_packs,
    missing_files,
    packs_root,
)

PACK = "minifasnet"
V2 = "minifasnet_v2_80x80_fp32"


def writable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def flip_byte(path: Path, offset: int = 1000) -> None:
    path.chmod(0o644)
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve_folder() -> Iterator[functools.partial[str]]:
    """Serve a folder on 127.0.0.1 in a thread; yields ``serve(folder) -> base URL``."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield functools.partial(serve)
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


# install root -----------------------------------------------------------------------------


def test_packs_root_is_model_dir_else_the_xdg_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert packs_root(tmp_path / "m") == tmp_path / "m"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert packs_root(None) == tmp_path / "xdg" / "facegate" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert packs_root(None) == tmp_path / "home" / ".local" / "share" / "facegate" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert packs_root(None) == tmp_path / "home" / ".local" / "share" / "facegate" / "models"


def test_manifest_lists_the_pack_with_its_licence() -> None:
    manifest = load_manifest()
    pack = manifest.pack(PACK)
    assert pack.license_file in {f.name for f in pack.files}
    assert set(pack.models) == {V2, "minifasnet_v1se_80x80_fp32"}
    for spec in pack.models.values():
        assert spec.package == "pack:minifasnet"
        assert spec.pack == PACK
        assert spec.license.startswith("Apache-2.0")
        assert spec.source
        assert spec.preprocessing
    # Pack models are found by id but are not among the wheel models every install must have.
    assert V2 not in manifest.models
    assert manifest.spec(V2).path == "MiniFASNetV2_80x80.onnx"
    assert V2 in manifest.all_models()


def test_an_absent_pack_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(
        ModelIntegrityError,
        match=r"model pack minifasnet is not installed: run "
        r"`facegate models install minifasnet --from DIR_OR_URL`",
    ):
        load_manifest().verified_path(V2, tmp_path)
    assert installed_packs(tmp_path) == []


# from a folder ----------------------------------------------------------------------------


def test_install_from_a_folder_verifies_and_is_idempotent(
    tmp_path: Path, pack_source: Path
) -> None:
    manifest = load_manifest()
    root = tmp_path / "models"
    paths = install_pack(PACK, str(pack_source), root)
    expected = {f.name: f.sha256 for f in manifest.pack(PACK).files}
    assert {p.name for p in paths} == set(expected)
    for p in paths:
        assert p.parent == root / PACK
        assert sha256_file(p) == expected[p.name]
    assert installed_packs(root) == [PACK]
    assert manifest.verified_path(V2, root) == root / PACK / "MiniFASNetV2_80x80.onnx"

    again = install_pack(PACK, str(pack_source), root)
    assert again == paths
    assert sorted(files_under(root)) == sorted(paths)  # no temporary file left behind
    assert missing_files(PACK, root) == []


def test_a_flipped_byte_is_refused_and_nothing_is_installed(
    tmp_path: Path, pack_source: Path
) -> None:
    src = writable_copy(pack_source, tmp_path / "src")
    # The second model: the first one is already staged when the check fails.
    flip_byte(src / "MiniFASNetV1SE_80x80.onnx")
    root = tmp_path / "models"
    with pytest.raises(PackInstallError, match=r"MiniFASNetV1SE_80x80\.onnx.*sha256"):
        install_pack(PACK, str(src), root)
    assert files_under(root) == []
    assert not (root / PACK).exists()


def test_a_failed_reinstall_leaves_the_installed_pack_as_it_was(
    tmp_path: Path, pack_source: Path
) -> None:
    root = tmp_path / "models"
    good = install_pack(PACK, str(pack_source), root)
    src = writable_copy(pack_source, tmp_path / "src")
    flip_byte(src / "LICENSE", 10)
    with pytest.raises(PackInstallError, match="sha256"):
        install_pack(PACK, str(src), root)
    assert sorted(files_under(root)) == sorted(good)
    load_manifest().verified_path(V2, root)


def test_a_missing_file_is_refused(tmp_path: Path, pack_source: Path) -> None:
    src = writable_copy(pack_source, tmp_path / "src")
    (src / "LICENSE").unlink()
    root = tmp_path / "models"
    with pytest.raises(PackInstallError, match=r"LICENSE is missing"):
        install_pack(PACK, str(src), root)
    assert files_under(root) == []


def test_a_file_larger_than_listed_is_refused(tmp_path: Path, pack_source: Path) -> None:
    src = writable_copy(pack_source, tmp_path / "src")
    with (src / "MiniFASNetV2_80x80.onnx").open("ab") as fh:
        fh.write(b"\0" * 10)
    root = tmp_path / "models"
    with pytest.raises(PackInstallError, match="bytes the manifest lists"):
        install_pack(PACK, str(src), root)
    assert files_under(root) == []


def test_a_source_that_is_neither_folder_nor_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackInstallError, match="neither a folder nor"):
        install_pack(PACK, str(tmp_path / "nowhere"), tmp_path / "models")
    with pytest.raises(ModelIntegrityError, match="unknown model pack"):
        install_pack("turbo", str(tmp_path), tmp_path / "models")


# from a URL -------------------------------------------------------------------------------


def test_install_from_a_url(
    tmp_path: Path, pack_source: Path, serve_folder: functools.partial[str]
) -> None:
    url = serve_folder(pack_source)
    root = tmp_path / "models"
    paths = install_pack(PACK, url, root)
    assert installed_packs(root) == [PACK]
    assert sorted(files_under(root)) == sorted(paths)
    load_manifest().verified_path(V2, root)
    # The same without the trailing slash, over the installed pack.
    assert install_pack(PACK, url.rstrip("/"), root) == paths


def test_a_url_missing_a_file_or_serving_a_bad_one_is_refused(
    tmp_path: Path, pack_source: Path, serve_folder: functools.partial[str]
) -> None:
    src = writable_copy(pack_source, tmp_path / "src")
    (src / "LICENSE").unlink()
    root = tmp_path / "models"
    with pytest.raises(PackInstallError, match=r"LICENSE is missing \(404\)"):
        install_pack(PACK, serve_folder(src), root)
    assert files_under(root) == []

    bad = writable_copy(pack_source, tmp_path / "bad")
    flip_byte(bad / "MiniFASNetV2_80x80.onnx")
    with pytest.raises(PackInstallError, match="sha256"):
        install_pack(PACK, serve_folder(bad), root)
    assert files_under(root) == []


def test_a_closed_port_fails_quickly_and_clearly(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(PackInstallError, match=rf"could not fetch http://127\.0\.0\.1:{port}/"):
        install_pack(PACK, f"http://127.0.0.1:{port}", tmp_path / "models")
    assert time.monotonic() - start < 5
    assert files_under(tmp_path / "models") == []


# CLI --------------------------------------------------------------------------------------


def test_cli_install_list_verify(
    tmp_path: Path,
    pack_source: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "models"
    monkeypatch.setenv("FACEGATE_MODEL_DIR", str(root))

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{V2}" in out
    assert "not installed" in out
    # An optional pack that is absent is no failure of verify.
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    # verify makes the converted SFace and checks it against the manifest.
    assert re.search(r"sface_2021dec_fp32\s+converted\s+ok", out), out

    assert main(["models", "install", PACK, "--from", str(pack_source)]) == 0
    out = capsys.readouterr().out
    for f in load_manifest().pack(PACK).files:
        assert f"{f.sha256}  {root / PACK / f.name}" in out

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "not installed" not in out
    assert str(root / PACK / "MiniFASNetV2_80x80.onnx") in out

    flip_byte(root / PACK / "MiniFASNetV2_80x80.onnx")
    assert main(["models", "verify"]) == 1
    assert "SHA256 MISMATCH" in capsys.readouterr().out


def test_cli_install_failure_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        ["models", "install", PACK, "--from", str(empty), "--model-dir", str(tmp_path / "m")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("facegate: cannot install")
    assert "is missing" in err
    assert files_under(tmp_path / "m") == []
