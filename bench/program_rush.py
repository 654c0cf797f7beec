"""A visitor rush on GET /api/program: requests/s halqa answers on one core.

    python -m bench.program_rush [--seconds 10] [--connections 50]

Runs `halqa serve` twice in one run, pinned to one core (taskset), on SQLite
with the demo event (9 sessions, 55 speakers):
  before: [public] refresh_s = 0, every request reads the database
          (what halqa did before the in-memory program);
  after:  the defaults (rebuilt at most once a second, served from memory).
For each: plain GETs (a browser's first visit, full body), and conditional
GETs with If-None-Match (a browser or a cache revalidating: 304).
The load generator is wrk (Debian: `apt-get install wrk`) on the other core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.support import ROOT, free_port


def start(data: Path, port: int, refresh_s: float, core: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HALQA_DATA_DIR": str(data), "HALQA_PUBLIC__REFRESH_S": str(refresh_s),
           "HALQA_LOG_LEVEL": "warning", "HALQA_ORGANIZER_TOKEN": "b" * 32,
           "HALQA_LIMITS__REQUESTS_PER_MINUTE": "100000000"}
    cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def wait_ready(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{url}/api/program") as r:
                    if r.status == 200:
                        return r.headers.get("ETag", "")
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("halqa did not start")


def wrk(url: str, seconds: int, conns: int, core: int, etag: str | None) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if etag:
        cmd += ["-H", f"If-None-Match: {etag}"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = subprocess.run([*cmd, f"{url}/api/program"], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"),
            "errors": float(errors.group(1)) if errors else 0.0}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    cores = os.cpu_count() or 1
    server_core, load_core = 0, 1 % cores
    print(f"GET /api/program, demo event, SQLite; halqa pinned to core {server_core}, "
          f"wrk -t1 -c{args.connections} -d{args.seconds}s on core {load_core}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'variant':<8} {'request':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, refresh in (("before", 0.0), ("after", 1.0)):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            proc = start(Path(tmp), port, refresh, server_core)
            try:
                url = f"http://127.0.0.1:{port}"
                etag = await wait_ready(url)
                time.sleep(0.5)
                for kind, tag in (("full 200", None), ("revalidate", etag)):
                    r = wrk(url, args.seconds, args.connections, load_core, tag)
                    print(f"{name:<8} {kind:<12} {r['rps']:>8.0f} {r['p50']:>8.1f} "
                          f"{r['p99']:>8.1f} {r['errors']:>7.0f}")
            finally:
                proc.terminate()
                proc.wait(10)
    print(f"load average after: {os.getloadavg()[0]:.2f} (shared machine)")


if __name__ == "__main__":
    asyncio.run(main())
