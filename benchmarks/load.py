"""Load, fault and soak benchmark of the API tier with and without inference workers.

Starts real processes on loopback (``facegate serve`` alone, or ``facegate serve`` with
``FACEGATE_WORKER_URLS`` and N ``facegate worker``), drives
``/identity/image_verification/stateless`` with LFW pairs, and reports:

- **throughput**: completed requests per second at saturation (``--concurrency`` requests kept
  in flight) and p50/p99 latency, in-process and with workers, and their ratio;
- **kill**: at a steady rate, one worker is killed with SIGKILL mid-run and started again on
  its port; every request is accounted for: answered correctly, answered wrongly (a score that
  differs from the same pair's calm answer), failed (an error status, e.g. 503) or lost (no
  answer at all), with the API tier's retry count read from its /metrics;
- **soak**: a steady rate for ``--soak`` seconds after a warm-up; resident memory of every
  process at the start and the end.

Every answer is checked: before the load, each pair is sent once, one at a time, and its score
kept; the in-process and worker set-ups must agree on those scores exactly, and every answer
under load must equal its pair's.

    python -m benchmarks.load --json benchmarks/results/load.json            # everything
    python -m benchmarks.load --skip-soak --duration 20                      # quick look

``--doc PAGE`` rewrites the page's ``load-table`` block from the report (a test checks that the
committed page and ``benchmarks/results/load.json`` agree).

The load generator runs on the same machine and takes CPU of its own (pre-encrypted bodies keep
it small); both set-ups pay it alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import psutil
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.docblocks import write_block
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from tools.lfw_data import read_pairs

ROOT = Path(__file__).resolve().parents[1]
VERIFY = "/identity/image_verification/stateless"
FACEGATE = str(Path(sys.executable).with_name("facegate"))


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    health: str
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            try:
                if httpx.get(self.health, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy after {timeout} s: see {self.log}")

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()

    def cpu_seconds(self) -> float:
        assert self.popen is not None
        t = psutil.Process(self.popen.pid).cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        assert self.popen is not None
        return float(psutil.Process(self.popen.pid).memory_info().rss) / 2**20


@dataclass
class Cluster:
    api: Proc
    workers: list[Proc] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.health.rsplit("/", 1)[0]

    def processes(self) -> list[Proc]:
        return [self.api, *self.workers]

    def stop(self) -> None:
        for p in self.processes():
            p.stop()


def start_cluster(n_workers: int, handlers: int, logs: Path, threads: int) -> Cluster:
    env = {**os.environ, "FACEGATE_LOG_FORMAT": "json"}
    workers = []
    for i in range(n_workers):
        port = free_port()
        workers.append(
            Proc(
                f"worker-{i + 1}",
                [FACEGATE, "worker", "--host", "127.0.0.1", "--port", str(port)],
                {**env, "HANDLERS": str(handlers)},
                logs / f"worker-{i + 1}.log",
                f"http://127.0.0.1:{port}/healthcheck",
            )
        )
    api_env = {**env, "FACEGATE_INFERENCE_THREADS": str(threads)}
    if workers:
        api_env["FACEGATE_WORKER_URLS"] = ",".join(w.health.rsplit("/", 1)[0] for w in workers)
    port = free_port()
    api = Proc(
        "api",
        [FACEGATE, "serve", "--host", "127.0.0.1", "--port", str(port)],
        api_env,
        logs / f"api-{'workers' if workers else 'inprocess'}.log",
        f"http://127.0.0.1:{port}/readyz",
    )
    cluster = Cluster(api, workers)
    for p in cluster.processes():
        p.start()
    try:
        for w in workers:
            w.wait_healthy()
        api.wait_healthy()
    except Exception:
        cluster.stop()
        raise
    return cluster


# --- requests -----------------------------------------------------------------------------------


def make_bodies(data: Path, n: int, seed: int) -> list[bytes]:
    """``n`` LFW pairs of pairs.txt (same and different persons), encrypted as clients send
    them, as ready form bodies so that the generator spends no CPU on them under load."""
    chosen = random.Random(seed).sample(read_pairs(data), n)
    settings = Settings()
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    bodies = []
    for a, b, _ in chosen:
        form = {
            "first_encrypted_image": cipher.encrypt((data / a).read_bytes()),
            "second_encrypted_image": cipher.encrypt((data / b).read_bytes()),
        }
        bodies.append(urlencode(form).encode())
    return bodies


HEADERS = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Outcome:
    pair: int
    seconds: float
    status: int | None  # None: no answer (lost)
    score: float | None
    request_id: str | None


async def one(client: httpx.AsyncClient, url: str, bodies: list[bytes], i: int) -> Outcome:
    sent = time.monotonic()
    try:
        r = await client.post(url + VERIFY, content=bodies[i], headers=HEADERS)
    except httpx.HTTPError:
        return Outcome(i, time.monotonic() - sent, None, None, None)
    seconds = time.monotonic() - sent
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    score = body.get("verification_score") if r.status_code == 200 else None
    return Outcome(i, seconds, r.status_code, score, body.get("request_id"))


def client(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(120.0),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def calm_scores(url: str, bodies: list[bytes]) -> list[float | None]:
    async with client(1) as c:
        out = [await one(c, url, bodies, i) for i in range(len(bodies))]
    return [o.score for o in out]


async def saturate(
    url: str, bodies: list[bytes], concurrency: int, seconds: float
) -> list[Outcome]:
    results: list[Outcome] = []
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def loop(c: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            results.append(await one(c, url, bodies, next(counter) % len(bodies)))

    async with client(concurrency) as c:
        await asyncio.gather(*(loop(c) for _ in range(concurrency)))
    return results


async def steady(
    url: str,
    bodies: list[bytes],
    rate: float,
    seconds: float,
    events: list[tuple[float, Any]] | None = None,
) -> list[Outcome]:
    """Open loop: a request every 1/rate s whatever the answers do; ``events`` are (time,
    callable) run in a thread at those offsets (kill, restart)."""
    start = time.monotonic()
    n = int(rate * seconds)
    tasks = []
    pending = sorted(events or [], key=lambda e: e[0])
    async with client(256) as c:
        for i in range(n):
            at = start + i / rate
            while pending and pending[0][0] <= i / rate:
                _, action = pending.pop(0)
                tasks.append(asyncio.ensure_future(asyncio.to_thread(action)))
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(c, url, bodies, i % len(bodies))))
        done = await asyncio.gather(*tasks)
    return [o for o in done if isinstance(o, Outcome)]


def summary(
    outcomes: list[Outcome], expected: list[float | None], seconds: float
) -> dict[str, Any]:
    ok = [o for o in outcomes if o.status == 200]
    wrong = [o for o in ok if o.score != expected[o.pair]]
    lat = np.array([o.seconds for o in ok]) * 1000 if ok else np.zeros(1)
    statuses: dict[str, int] = {}
    for o in outcomes:
        if o.status not in (200, None):
            statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
    return {
        "sent": len(outcomes),
        "ok": len(ok) - len(wrong),
        "wrong": len(wrong),
        "failed": sum(statuses.values()),
        "failed_by_status": statuses,
        "lost": sum(1 for o in outcomes if o.status is None),
        "throughput_rps": round(len(ok) / seconds, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
    }


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5.0).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


# --- the runs -----------------------------------------------------------------------------------


def saturated(
    cluster: Cluster, bodies: list[bytes], expected: list[float | None], args: argparse.Namespace
) -> dict[str, Any]:
    """A saturation run, with the CPU time each process spent per answered request (the
    sizing rule: requests/s per core)."""
    cpu0 = {p.name: p.cpu_seconds() for p in cluster.processes()}
    t0 = time.monotonic()
    res = asyncio.run(saturate(cluster.url, bodies, args.concurrency, args.duration))
    out = summary(res, expected, time.monotonic() - t0)
    ok = max(1, out["ok"])
    out["cpu_ms_per_request"] = {
        p.name: round(1000 * (p.cpu_seconds() - cpu0[p.name]) / ok, 2) for p in cluster.processes()
    }
    total = sum(out["cpu_ms_per_request"].values())
    out["requests_per_core_second"] = round(1000 / total, 2)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    bodies = make_bodies(args.data, args.pairs, args.seed)
    logs = Path(tempfile.mkdtemp(prefix="facegate-load-"))
    report: dict[str, Any] = {
        "machine": {
            "logical_cpus": os.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
        },
        "setup": {
            "pairs": args.pairs,
            "workers": args.workers,
            "handlers_per_worker": args.handlers,
            "inprocess_threads": args.threads,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
        },
        "logs": str(logs),
    }
    print(f"logs in {logs}", file=sys.stderr)

    inproc = start_cluster(0, args.handlers, logs, args.threads)
    try:
        expected = asyncio.run(calm_scores(inproc.url, bodies))
        # Pairs without an answer (no face found) would blur "failed"; the rest is what counts.
        bodies = [b for b, s in zip(bodies, expected, strict=True) if s is not None]
        expected = [s for s in expected if s is not None]
        report["setup"]["pairs_answered"] = len(bodies)
        print("in-process: saturating …", file=sys.stderr)
        report["inprocess"] = saturated(inproc, bodies, expected, args)
        print(json.dumps(report["inprocess"]), file=sys.stderr)
    finally:
        inproc.stop()

    cluster = start_cluster(args.workers, args.handlers, logs, args.threads)
    try:
        calm = asyncio.run(calm_scores(cluster.url, bodies))
        report["workers_agree_with_inprocess"] = calm == expected
        print(f"{args.workers} workers: saturating …", file=sys.stderr)
        report["with_workers"] = saturated(cluster, bodies, expected, args)
        print(json.dumps(report["with_workers"]), file=sys.stderr)
        report["throughput_ratio"] = round(
            report["with_workers"]["throughput_rps"] / report["inprocess"]["throughput_rps"], 3
        )
        report["kill"] = kill_run(cluster, bodies, expected, args)
        print(json.dumps(report["kill"]), file=sys.stderr)
        if not args.skip_soak:
            report["soak"] = soak_run(cluster, bodies, expected, args)
            print(json.dumps(report["soak"]), file=sys.stderr)
    finally:
        cluster.stop()
    return report


def kill_run(
    cluster: Cluster, bodies: list[bytes], expected: list[float | None], args: argparse.Namespace
) -> dict[str, Any]:
    victim = cluster.workers[0]
    retries_before = metric(cluster.url, "facegate_worker_retries_total")
    marks: dict[str, float] = {}
    start = time.monotonic()

    def kill() -> None:
        marks["killed_at_s"] = round(time.monotonic() - start, 2)
        victim.kill()

    def restart() -> None:
        marks["victim_log_lines_before_restart"] = len(victim.log.read_text().splitlines())
        victim.start()
        victim.wait_healthy()
        marks["restarted_healthy_at_s"] = round(time.monotonic() - start, 2)

    seconds = args.kill_duration
    events = [(seconds * 0.3, kill), (seconds * 0.3 + args.restart_after, restart)]
    print(
        f"kill: {args.rate} req/s for {seconds} s, SIGKILL {victim.name} at {seconds * 0.3:.0f} s",
        file=sys.stderr,
    )
    res = asyncio.run(steady(cluster.url, bodies, args.rate, seconds, events))
    out = summary(res, expected, time.monotonic() - start)
    out["retried"] = int(metric(cluster.url, "facegate_worker_retries_total") - retries_before)
    out["rate_rps"] = args.rate
    # After its restart the victim must take calls again.
    before = int(marks.pop("victim_log_lines_before_restart"))
    after = victim.log.read_text().splitlines()[before:]
    out["victim_calls_after_restart"] = sum(1 for line in after if '"/v1/verify"' in line)
    out.update(marks)
    out["request_ids_traceable"] = trace(cluster, res)
    return out


def trace(cluster: Cluster, outcomes: list[Outcome]) -> dict[str, int]:
    """How many answered request ids appear in the API's log and in some worker's log."""
    ids = {o.request_id for o in outcomes if o.status == 200 and o.request_id}
    api_ids, worker_ids = set(), set()
    for proc, into in [(cluster.api, api_ids)] + [(w, worker_ids) for w in cluster.workers]:
        for line in proc.log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "request" and record.get("request_id"):
                into.add(record["request_id"])
    return {
        "answered": len(ids),
        "in_api_log": len(ids & api_ids),
        "in_a_worker_log": len(ids & worker_ids),
    }


def soak_run(
    cluster: Cluster, bodies: list[bytes], expected: list[float | None], args: argparse.Namespace
) -> dict[str, Any]:
    print(f"soak: warm-up {args.soak_warmup} s, then {args.soak} s …", file=sys.stderr)
    asyncio.run(steady(cluster.url, bodies, args.rate, args.soak_warmup))
    before = {p.name: p.rss_mb() for p in cluster.processes()}
    start = time.monotonic()
    res = asyncio.run(steady(cluster.url, bodies, args.rate, args.soak))
    out = summary(res, expected, time.monotonic() - start)
    after = {p.name: p.rss_mb() for p in cluster.processes()}
    out["rss_mb"] = {
        name: {
            "start": round(before[name], 1),
            "end": round(after[name], 1),
            "growth_pct": round(100 * (after[name] - before[name]) / before[name], 2),
        }
        for name in before
    }
    out["seconds"] = args.soak
    out["rate_rps"] = args.rate
    return out


DOC_BLOCK = "load-table"


def _growth(pct: float) -> str:
    return f"{round(pct, 1) or 0.0:+.1f} %"  # no "-0.0"


def _row(label: str, r: dict[str, Any], bold: bool) -> str:
    rps = f"**{r['throughput_rps']:.2f}**" if bold else f"{r['throughput_rps']:.1f}"
    return (
        f"| {label} | {r['sent']:,} | {r['ok']:,} | {r['wrong']} | {r['failed']} | {r['lost']} "
        f"| {rps} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
    )


def render_table(report: dict[str, Any]) -> str:
    """The docs' load table and what it shows, from the benchmark's report."""
    s, ip, ww = report["setup"], report["inprocess"], report["with_workers"]
    saturation = f"{s['concurrency']} in flight for {s['duration_s']:.0f} s"
    lines = [
        "| run | requests | correct | wrong | failed | lost | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        _row(f"in-process (`facegate serve`, {s['inprocess_threads']} threads), {saturation}",
             ip, True),
        _row(f"API + {s['workers']} workers (`HANDLERS={s['handlers_per_worker']}` each), "
             f"{saturation}", ww, True),
    ]  # fmt: skip
    kill = report.get("kill")
    if kill:
        lines.append(
            _row(
                f"kill: {kill['rate_rps']:g} req/s, worker 1 SIGKILLed at "
                f"{kill['killed_at_s']:.1f} s, restarted (healthy at "
                f"{kill['restarted_healthy_at_s']:.1f} s)",
                kill,
                False,
            )
        )
    soak = report.get("soak")
    if soak:
        lines.append(
            _row(f"soak: {soak['rate_rps']:g} req/s for {soak['seconds']:.0f} s", soak, False)
        )
    workers_cpu = sum(v for k, v in ww["cpu_ms_per_request"].items() if k != "api")
    lines += [
        "",
        f"- **Throughput.** With workers it is {report['throughput_ratio']:.3f}× the "
        f"in-process figure; the scores of the two set-ups agree exactly: "
        f"{'yes' if report['workers_agree_with_inprocess'] else 'NO'}. The CPU spent per "
        f"answered request was {ip['cpu_ms_per_request']['api']:.1f} ms in-process, against "
        f"{ww['cpu_ms_per_request']['api']:.1f} ms in the API process plus "
        f"{workers_cpu:.1f} ms in the workers.",
    ]
    if kill:
        ids = kill["request_ids_traceable"]
        lines.append(
            f"- **Kill run.** {kill['retried']} call(s) retried "
            "(`facegate_worker_retries_total`); after its restart, the killed worker took "
            f"{kill['victim_calls_after_restart']} calls. Of {ids['answered']} answered request "
            f"ids, {ids['in_api_log']} are in the API's log and {ids['in_a_worker_log']} in a "
            "worker's log."
        )
    if soak:
        rss = ", ".join(
            f"{name} {m['start']:.1f} → {m['end']:.1f} MB ({_growth(m['growth_pct'])})"
            for name, m in soak["rss_mb"].items()
        )
        lines.append(f"- **Soak.** Resident memory from start to end: {rss}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "../shared/data/lfw")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--handlers", type=int, default=1, help="HANDLERS of each worker")
    parser.add_argument("--threads", type=int, default=2, help="in-process inference threads")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8, help="saturation runs")
    parser.add_argument("--duration", type=float, default=60.0, help="each saturation run, s")
    parser.add_argument("--rate", type=float, default=8.0, help="kill and soak runs, req/s")
    parser.add_argument("--kill-duration", type=float, default=60.0)
    parser.add_argument("--restart-after", type=float, default=10.0)
    parser.add_argument("--soak", type=float, default=600.0, help="soak length after warm-up, s")
    parser.add_argument("--soak-warmup", type=float, default=60.0)
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--doc", type=Path, default=None, help="rewrite the table in this page")
    args = parser.parse_args()
    if not (args.data / "pairs.txt").is_file():
        sys.exit(f"no LFW pairs.txt in {args.data} (use --data)")
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    if args.doc:
        write_block(args.doc, DOC_BLOCK, render_table(report))


if __name__ == "__main__":
    main()
