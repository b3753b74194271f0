"""The installed command: `facegate serve` answers over real HTTP; `facegate encrypt` matches."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from facegate.core.crypto import Cipher
from tests.conftest import jpeg_bytes, lfw_photo
from tests.servers import facegate_serve

pytestmark = [pytest.mark.models]

FACEGATE = [sys.executable, "-m", "facegate"]
JARS = ["httpclient", "httpcore", "commons-logging", "commons-codec"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # The default install, whatever packs this machine has.
    with facegate_serve(
        {**os.environ, "FACEGATE_LIVENESS_USE_PACK": "false"}, "/healthcheck", 60
    ) as url:
        yield url


def test_healthcheck_over_http(server: str) -> None:
    r = httpx.get(f"{server}/healthcheck")
    assert r.status_code == 200
    assert r.json() == {"code": 1000, "status": "ok"}


@pytest.mark.data
def test_verify_over_http_with_cli_encryption(server: str, lfw: Path) -> None:
    def cli_encrypt(path: Path) -> str:
        out = subprocess.run(
            [*FACEGATE, "encrypt", str(path)], capture_output=True, check=True, text=True
        )
        return out.stdout.strip()

    a, b = lfw_photo(lfw, "Colin_Powell", 1), lfw_photo(lfw, "Colin_Powell", 2)
    ea = cli_encrypt(a)
    assert ea == Cipher("dcbbad6765e14139a07d34b92292a672", "df25d188a061").encrypt(a.read_bytes())
    r = httpx.post(
        f"{server}/identity/image_verification/stateless",
        data={"first_encrypted_image": ea, "second_encrypted_image": cli_encrypt(b)},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.json()["verification_score"] > 0.7


def test_bad_key_stops_start_up_with_a_clear_message() -> None:
    env = {**os.environ, "PARAM_DECRYPT_KEY": "tooshort"}
    out = subprocess.run(
        [*FACEGATE, "serve", "--port", "1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 2
    assert "PARAM_DECRYPT_KEY must be exactly 32 characters" in out.stderr


def test_models_verify_command() -> None:
    out = subprocess.run(
        [*FACEGATE, "models", "verify"], capture_output=True, text=True, check=True
    )
    assert out.stdout.count(" ok ") >= 5


def java_classpath() -> str | None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        return None
    jars = [Path("/usr/share/java") / f"{name}.jar" for name in JARS]
    return os.pathsep.join(str(j) for j in jars) if all(j.is_file() for j in jars) else None


@pytest.mark.data
def test_java_client_written_from_the_manual(server: str, lfw: Path, tmp_path: Path) -> None:
    classpath = java_classpath()
    if classpath is None:
        pytest.skip(
            "needs javac and Debian's libhttpclient-java (apt-get install libhttpclient-java)"
        )
    photo = lfw_photo(lfw, "Colin_Powell", 1)  # one face each
    video = lfw.parent / "video" / "live" / "liveportrait_d3.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is missing")
    src = Path(__file__).parent / "java" / "ManualClient.java"
    subprocess.run(
        ["javac", "-cp", classpath, "-d", str(tmp_path), str(src)], check=True, capture_output=True
    )
    out = subprocess.run(
        [
            "java",
            "-cp",
            f"{tmp_path}{os.pathsep}{classpath}",
            "ManualClient",
            server,
            "dcbbad6765e14139a07d34b92292a672",
            "df25d188a061",
            str(photo),
            str(lfw_photo(lfw, "Colin_Powell", 2)),
            str(video),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 5, out.stdout + out.stderr
    results = [(int(line.split(" ", 1)[0]), json.loads(line.split(" ", 1)[1])) for line in lines]
    assert all(status == 200 and body["code"] == 1000 for status, body in results)
    verify, multi, quality, silent, silent_verify = (body for _, body in results)
    assert verify["verification_score"] > 0.7
    assert multi["scores"][0][0] > 0.7
    assert len(multi["face_rects"]["first_image_face_rects"]) == 1
    documented = ["passed", "liveness_score", "liveness_status", "image_timestamp"]
    documented += ["base64_image", "base64_face_image", "request_id"]
    assert set(documented) <= set(silent)
    assert silent["passed"] is True
    assert set(documented) | {"verification_score"} <= set(silent_verify)
    assert silent_verify["verification_score"] < 0.5  # Colin Powell is not in the video
    assert len(quality["faces"]) == 1
    assert "occlusion" in quality["faces"][0]


# The client alone: `pip install facegate` into a fresh virtual environment, then a real call.
CLIENT_SCRIPT = """
import importlib.util, json, sys
from facegate.sdk import FacegateClient, NoFaceDetected

url, key, iv, first, second, blank = sys.argv[1:]
with FacegateClient(url, key=key, iv=iv) as fg:
    verified = fg.verify(first, second)
    quality = fg.quality(first)
    try:
        fg.verify(first, blank)
        refused = None
    except NoFaceDetected as exc:
        refused = [type(exc).__name__, exc.code, exc.request_id]
heavy = ("dlib", "onnxruntime", "av", "psycopg", "sqlalchemy", "alembic", "cv2", "numpy",
         "fastapi", "uvicorn")
print(json.dumps({
    "installable": [m for m in heavy if importlib.util.find_spec(m) is not None],
    "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(heavy)),
    "score": verified.verification_score,
    "request_id": verified.request_id,
    "faces": len(quality.faces),
    "yaw": quality.faces[0].pose.yaw,
    "refused": refused,
}))
"""


def copy_project(to: Path) -> Path:
    """What a source distribution holds, without this checkout's build leftovers."""
    root = Path(__file__).resolve().parents[2]
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(root / "src", to / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, to / name)
    return to


@pytest.mark.data
def test_the_client_installs_alone_and_calls_the_server(
    server: str, lfw: Path, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    venv = tmp_path / "client"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(project)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    blank = tmp_path / "blank.jpg"
    blank.write_bytes(jpeg_bytes(np.full((240, 320, 3), 127, np.uint8)))
    a, b = lfw_photo(lfw, "Colin_Powell", 1), lfw_photo(lfw, "Colin_Powell", 2)
    key, iv = "dcbbad6765e14139a07d34b92292a672", "df25d188a061"
    run = subprocess.run(
        [str(python), "-c", CLIENT_SCRIPT, server, key, iv, str(a), str(b), str(blank)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the checkout: the installed package, not ./src
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["installable"] == []  # none of the server's stack came with the client
    assert out["loaded"] == []
    assert out["score"] > 0.7
    assert len(out["request_id"]) == 32
    assert out["faces"] == 1
    assert isinstance(out["yaw"], float)
    assert out["refused"][:2] == ["NoFaceDetected", 4000]
    # The service's commands say what to install rather than fail on an import.
    cli = subprocess.run([str(venv / "bin" / "facegate"), "serve"], capture_output=True, text=True)
    assert cli.returncode == 2
    assert "pip install 'facegate[server]'" in cli.stderr
