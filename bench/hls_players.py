"""Live HLS players behind nginx's proxy_cache: what halqa itself still answers.

    python -m bench.hls_players [--players 10,100,1000] [--seconds 20]

One `halqa serve` (pinned to core 0), one nginx configured exactly as
docs/operations.md says (tests/nginx_helpers.py), and a live archive growing in
real time (ffmpeg -re, 2 s segments, 360p-sized, laid out as the packager
does; what halqa serves does not depend on who wrote the files). Simulated
players (aiohttp, one client task each, the load generator on core 1) do what
hls.js does on a live stream: fetch the master playlist once, then the media
playlist every target duration (2 s), and every segment it lists that they do
not have yet. For each number of players, halqa's own HLS requests per second
come from its /metrics, before and after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from server.hls import Signer
from tests.hls_helpers import FfmpegPackager
from tests.nginx_helpers import cache_proxy
from tests.support import ROOT, free_port

ROUTE = 'route="/hls/{session}/{scope}/{expiry}/{signature}/{file}"'


async def halqa_hls_requests(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/metrics") as r:
        text = await r.text()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("halqa_http_requests_total{") and ROUTE in line)


async def player(http: aiohttp.ClientSession, master: str, until: float,
                 stats: dict[str, int]) -> None:
    await asyncio.sleep(random.random() * 2)  # players arrive over 2 s, not in lockstep
    base = master.rsplit("/", 1)[0]
    async with http.get(master) as r:
        await r.read()
    have: set[str] = set()
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            async with http.get(f"{base}/360p/index.m3u8") as r:
                text = await r.text()
            stats["playlists"] += 1
            segs = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
            for s in segs[-2:] if not have else segs:  # join near the live edge
                if s not in have:
                    async with http.get(f"{base}/360p/{s}") as r:
                        await r.read()
                        stats["segments" if r.status == 200 else "errors"] += 1
                    have.add(s)
        except aiohttp.ClientError:
            stats["errors"] += 1
        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))


async def run(players: list[int], seconds: int) -> None:
    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        session = "opening-plenary"
        packager = FfmpegPackager(data, session).start()
        port = free_port()
        env = {**os.environ, "HALQA_DATA_DIR": str(data), "HALQA_HLS__SECRET": secret,
               "HALQA_LOG_LEVEL": "warning", "HALQA_ORGANIZER_TOKEN": "b" * 32}
        cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        halqa = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            conn = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=conn) as http:
                for _ in range(300):
                    try:
                        async with http.get(f"{url}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                while not (data / "hls" / session / "360p" / "index.m3u8").exists():
                    await asyncio.sleep(0.2)
                await asyncio.sleep(4)  # a few segments in the archive
                grant = Signer(secret.encode(), 6 * 3600, 3600).grant(session, "live")
                with cache_proxy(Path(tmp) / "nginx", port) as edge:
                    print(f"{'players':>8} {'halqa req/s':>12} {'edge req/s':>11} "
                          f"{'segments':>9} {'errors':>7} {'load':>5}")
                    for n in players:
                        before = await halqa_hls_requests(http, url)
                        stats = {"playlists": 0, "segments": 0, "errors": 0}
                        until = time.monotonic() + seconds
                        master = edge + grant.prefix + "master.m3u8"
                        await asyncio.gather(*(player(http, master, until, stats)
                                               for _ in range(n)))
                        seen = await halqa_hls_requests(http, url) - before
                        edge_rps = (stats["playlists"] + stats["segments"] + n) / seconds
                        print(f"{n:>8} {seen / seconds:>12.2f} {edge_rps:>11.0f} "
                              f"{stats['segments']:>9} {stats['errors']:>7} "
                              f"{os.getloadavg()[0]:>5.1f}")
        finally:
            halqa.terminate()
            halqa.wait(10)
            packager.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--players", default="10,100,1000")
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    print(f"live HLS behind nginx proxy_cache (docs/operations.md), {args.seconds} s per row; "
          "halqa on core 0, players on core 1; shared machine")
    asyncio.run(run([int(x) for x in args.players.split(",")], args.seconds))


if __name__ == "__main__":
    main()
