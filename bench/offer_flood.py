"""/healthz latency while 40 many-section WHEP offers arrive at once.

    python -m bench.offer_flood [--offers 40] [--sections 380]

Starts `halqa serve` (SQLite, its own data folder) as a real process, registers
a few participants, then sends the offers concurrently while timing /healthz
every 20 ms. Prints the answers' statuses, /healthz p50/max and the server's
resident memory before and after. Run it before and after a change to the
offer checks; figures go to bench/RESULTS.md with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.integration.test_hardening_findings import many_sections, recv_offer
from tests.support import ServerProcess


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(offers: int, sections: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        token = os.urandom(12).hex()
        server = ServerProcess(Path(tmp), {"HALQA_ORGANIZER_TOKEN": token,
                                           "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000",
                                           "HALQA_MEDIA__OFFERS_PER_10S": "1000"})
        await server.start()
        assert server.proc is not None
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{server.url}/api/program") as r:
                    session = (await r.json())["sessions"][0]["id"]
                tokens = []
                for i in range(8):
                    async with http.post(f"{server.url}/api/registrations", json={
                            "name": f"Flood {i}", "email": f"f{i}-{token[:6]}@example.org",
                            "country": "MA", "language": "fr", "consent": True}) as r:
                        tokens.append((await r.json())["token"])
                big = many_sections(await recv_offer(1), sections)
                rss0 = rss_mib(server.proc.pid)
                latencies: list[float] = []
                stop = asyncio.Event()

                async def probe() -> None:
                    while not stop.is_set():
                        t0 = time.monotonic()
                        async with http.get(f"{server.url}/healthz") as r:
                            await r.read()
                        latencies.append(time.monotonic() - t0)
                        await asyncio.sleep(0.02)

                async def offer(i: int) -> int:
                    async with http.post(
                        f"{server.url}/whep/{session}", data=big,
                        headers={"Content-Type": "application/sdp",
                                 "Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                    ) as r:
                        await r.read()
                        return r.status

                prober = asyncio.create_task(probe())
                await asyncio.sleep(0.3)
                t0 = time.monotonic()
                statuses = await asyncio.gather(*(offer(i) for i in range(offers)))
                took = time.monotonic() - t0
                await asyncio.sleep(0.5)
                stop.set()
                await prober
                rss1 = rss_mib(server.proc.pid)
        finally:
            server.stop()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"{offers} offers x {sections} sections ({len(big.encode()) // 1024} KiB each), "
          f"answered in {took:.2f} s: statuses {counts}")
    print(f"/healthz during the flood: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms ({len(latencies)} probes)")
    print(f"server RSS: {rss0:.0f} MiB before, {rss1:.0f} MiB after; "
          f"load average {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, default=40)
    ap.add_argument("--sections", type=int, default=380)
    a = ap.parse_args()
    asyncio.run(main(a.offers, a.sections))
