"""Private PostgreSQL and Redis servers for tests, each on a free port in a temporary folder and
stopped afterwards. Debian's ``postgresql`` and ``redis-server`` packages provide the binaries
(.ci/run installs them); as root PostgreSQL runs as the ``postgres`` user, since initdb refuses
root."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a SQLAlchemy URL of an empty database on a fresh server."""
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL binaries not found (Debian package postgresql)")
    # Directly under /tmp: pytest's own temporary folders are private to their owner, and as
    # root the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "facegate", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    log = root / "server.log"
    subprocess.run(
        [
            *prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start",
            "-o", f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        for _ in range(50):
            done = subprocess.run(
                [*prefix, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                 "-U", "facegate", "facegate"],
                capture_output=True,
            )  # fmt: skip
            if done.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"createdb failed: {done.stderr.decode()}")
        yield f"postgresql+psycopg://facegate@127.0.0.1:{port}/facegate"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def redis_bin() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields the ``redis://`` URL of a fresh server that keeps nothing on disk."""
    binary = redis_bin()
    if binary is None:
        raise FileNotFoundError("redis-server not found (Debian package redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="facegate-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def facegate_serve(
    env: dict[str, str], ready: str = "/readyz", timeout: float = 90.0
) -> Iterator[str]:
    """A real ``facegate serve`` on a free loopback port, with ``env``: its base URL once
    ``ready`` answers 200; stopped (SIGTERM, drained) afterwards."""
    import httpx
    import pytest

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facegate", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(url + ready, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"facegate serve exited: {out}")
            if time.monotonic() > deadline:
                pytest.fail(f"facegate serve did not answer {ready} within {timeout:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
