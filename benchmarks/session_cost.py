"""What a browser capture session costs the server (issue 16, point 5).

    python -m benchmarks.session_cost --data ../shared/data \\
        --json benchmarks/results/session_cost.json

A real ``facegate serve`` (inference in-process) and real WebSocket clients: each session is
created with a cloud key, then a live clip of ``video/live`` is streamed as a camera sends it
(10 JPEG frames a second, 480 px wide, paced by the clock) until the server decides. With 1, 2
and 4 sessions at once, it records the server process's CPU time while the frames stream (the
guidance looks, the frame checks) and after the last frame (the decision), and the time from
the last frame sent to the result. From these: CPU per second of streaming, sessions one core
can stream at once, and the decision's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import websocket

from benchmarks.load import FACEGATE, Proc, free_port
from benchmarks.sessions import camera

SESSIONS = "/facegate/v1/liveness/sessions"
CLIP = "tranvanluyt_real.mp4"


def create_key(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run([FACEGATE, "keys", "create", "--name", "bench", "--json"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    key = json.loads(out.stdout)
    return key["api_id"], key["api_secret"]


def one_session(
    url: str, auth: tuple[str, str], frames: list[bytes], mode: str, out: dict[str, Any]
) -> None:
    body = {"mode": mode, **({"actions": 2} if mode == "interactive" else {})}
    created = httpx.post(url + SESSIONS, json=body, auth=auth, timeout=30).json()
    ws = websocket.create_connection(
        url.replace("http", "ws") + f"{SESSIONS}/{created['session_id']}/stream", timeout=120
    )
    try:
        ws.send(json.dumps({"client_token": created["client_token"]}))
        ready = json.loads(ws.recv())
        duration = ready["duration_ms"]
        results: list[dict[str, Any]] = []

        def read() -> None:
            while True:
                try:
                    message = json.loads(ws.recv())
                except (websocket.WebSocketException, OSError, ValueError):
                    return
                if message["type"] in ("result", "error"):
                    message["at"] = time.monotonic()
                    results.append(message)
                    return

        reader = threading.Thread(target=read)
        reader.start()
        start = time.monotonic()
        for i, jpeg in enumerate(frames):
            stamp = i * 100
            if stamp > duration + 400:
                break
            time.sleep(max(0.0, stamp / 1000 - (time.monotonic() - start)))
            ws.send_binary(struct.pack(">I", stamp) + jpeg)
            if stamp >= duration:
                break
        out["last_frame"] = time.monotonic()
        out["streamed_s"] = out["last_frame"] - start
        reader.join(timeout=120)
        out["result"] = results[0] if results else {"type": "none"}
    finally:
        ws.close()


def run(url: str, auth: tuple[str, str], frames: list[bytes], pid: int, n: int,
        mode: str) -> dict[str, Any]:  # fmt: skip
    proc = psutil.Process(pid)
    outs: list[dict[str, Any]] = [{} for _ in range(n)]
    threads = [threading.Thread(target=one_session, args=(url, auth, frames, mode, o))
               for o in outs]  # fmt: skip
    cpu0 = sum(proc.cpu_times()[:2])
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and not all("last_frame" in o for o in outs):
        time.sleep(0.01)
    cpu1 = sum(proc.cpu_times()[:2])
    for t in threads:
        t.join()
    cpu2 = sum(proc.cpu_times()[:2])
    streamed = sum(o["streamed_s"] for o in outs)
    waits = [o["result"]["at"] - o["last_frame"] for o in outs if "at" in o["result"]]
    wait = None
    if waits:
        wait = {"median": round(statistics.median(waits), 2), "max": round(max(waits), 2)}
    return {
        "sessions": n,
        "mode": mode,
        "statuses": [o["result"].get("status", o["result"]["type"]) for o in outs],
        "stream_cpu_s_per_s": round((cpu1 - cpu0) / streamed, 3),
        "decision_cpu_s": round((cpu2 - cpu1) / n, 2),
        "session_cpu_s": round((cpu2 - cpu0) / n, 2),  # streaming and decision together
        "last_frame_to_result_s": wait,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--at-once", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args(argv)
    frames = camera(args.data / "video" / "live" / CLIP)
    folder = tempfile.mkdtemp(prefix="session-cost-")
    env = {**os.environ, "FACEGATE_DATA_DIR": folder, "FACEGATE_AUTH_FAILURE_BURST": "1000"}
    auth = create_key(env)
    port = free_port()
    server = Proc("api", [FACEGATE, "serve", "--host", "127.0.0.1", "--port", str(port)], env,
                  Path(folder) / "serve.log", f"http://127.0.0.1:{port}/healthcheck")  # fmt: skip
    server.start()
    try:
        server.wait_healthy(120)
        assert server.popen is not None
        url = f"http://127.0.0.1:{port}"
        run(url, auth, frames, server.popen.pid, 1, "silent")  # warm: models loaded
        runs = []
        for mode in ("silent", "interactive"):
            for n in args.at_once:
                r = run(url, auth, frames, server.popen.pid, n, mode)
                print(r, flush=True)
                runs.append(r)
    finally:
        server.stop()
    cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    single = [r for r in runs if r["sessions"] == 1]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {cores} physical cores",
        "clip": CLIP,
        "runs": runs,
        "streams_per_core": {r["mode"]: round(1 / r["stream_cpu_s_per_s"], 1) for r in single},
    }
    print(json.dumps(result["streams_per_core"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
