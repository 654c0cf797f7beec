"""Fan-out benchmark: one publisher to N viewers, forwarding vs MediaRelay re-encoding.

    python -m bench.fanout [--steps 10,50,100,200,300] [--baseline-steps 1,2,4]

The server runs as its own process pinned to CPU 0; publisher and viewers run
here, pinned to CPU 1. Per step: server CPU per viewer-second (above the
zero-viewer ingest cost), RSS per viewer, and the share of the publisher's
packets every viewer received (minimum and median). Prints figures only;
never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.stage_peers import (
    Counter,
    encode_vp8,
    light_viewer,
    publish,
    spawn_stage_server,
    wait_up,
)

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Row:
    mode: str
    viewers: int
    cpu_share: float  # fraction of one core
    ms_per_viewer_s: float
    rss_per_viewer_mib: float
    min_delivery: float
    median_delivery: float


class Sent:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, data: bytes, at: float) -> None:
        if len(data) > 1 and not 192 <= data[1] <= 223:
            self.count += 1


CLIENT_LOAD = [0.0]


async def server_stats(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    try:
        async with http.get(base + "/bench/stats") as r:
            return dict(await r.json()) if r.status == 200 else {}
    except aiohttp.ClientError:
        return {}


async def measure_window(pid: int, window: float) -> tuple[float, float]:
    c0, t0, p0 = cpu_seconds(pid), time.monotonic(), time.process_time()
    await asyncio.sleep(window)
    wall = time.monotonic() - t0
    CLIENT_LOAD[0] = (time.process_time() - p0) / wall
    return (cpu_seconds(pid) - c0) / wall, rss_mib(pid)


async def run(mode: str, steps: list[int], window: float, packets: list,
              beside: Any = None) -> list[Row]:
    """`beside(base)`, if given, starts something next to the stage once the
    publisher is live (bench.broadcast: a program mixer) and returns its stop."""
    port = free_port()
    proc = spawn_stage_server(port, "--mode", mode, log=f"/tmp/halqa-bench-{mode}.log")
    base = f"http://127.0.0.1:{port}"
    rows: list[Row] = []
    pcs = []
    stop_beside = None
    try:
        async with aiohttp.ClientSession() as http:
            await wait_up(http, base)
            sent = Sent()
            pub = await publish(http, base, packets, on_rtp=sent)
            pcs.append(pub)
            # audio and video share one (bundled) transport: the spy sees both
            if (
                pub.getTransceivers()[0].sender.transport
                is not pub.getTransceivers()[1].sender.transport
            ):
                raise RuntimeError("publisher is not bundled")
            stop_beside = beside(base) if beside is not None else None
            await asyncio.sleep(3)
            idle_cpu, rss0 = await measure_window(proc.pid, window)
            print(
                f"[{mode}] ingest only: {idle_cpu * 100:.1f}% of a core, RSS {rss0:.0f} MiB",
                flush=True,
            )
            counters: list[Counter] = []
            for n in steps:
                while len(counters) < n:
                    batch = min(10, n - len(counters))
                    new = [Counter() for _ in range(batch)]
                    pcs.extend(await asyncio.gather(*(light_viewer(http, base, c) for c in new)))
                    counters.extend(new)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not all(c.total() for c in counters):
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)
                for c in counters:
                    c.reset()
                sent_before = sent.count
                before = await server_stats(http, base)
                cpu, rss = await measure_window(proc.pid, window)
                expected = sent.count - sent_before
                after = await server_stats(http, base)
                if after:
                    got = after["packets_in"] - before["packets_in"]
                    drops = after["send_drops"] - before["send_drops"]
                    print(
                        f"  server took in {got} packets for the {expected} the publisher "
                        f"sent; refused sends {drops}",
                        flush=True,
                    )
                    # Conservative: judge delivery against the larger of the two counts.
                    expected = max(expected, got)
                shares = sorted(
                    min(1.0, c.total() / expected) if expected else 0.0 for c in counters
                )
                row = Row(
                    mode,
                    n,
                    cpu,
                    (cpu - idle_cpu) / n * 1000,
                    (rss - rss0) / n,
                    shares[0],
                    statistics.median(shares),
                )
                rows.append(row)
                print(
                    f"[{mode}] {n:4d} viewers: server {cpu * 100:5.1f}% of a core, "
                    f"{row.ms_per_viewer_s:6.2f} ms CPU per viewer-second, "
                    f"{row.rss_per_viewer_mib * 1024:6.0f} KiB per viewer, delivery min "
                    f"{row.min_delivery * 100:5.1f}% median {row.median_delivery * 100:5.1f}% "
                    f"({expected / window:.0f} pkt/s sent; viewers' process "
                    f"{CLIENT_LOAD[0] * 100:.0f}% of CPU 1)",
                    flush=True,
                )
                if cpu > 0.97 or (mode == "forward" and row.min_delivery < 0.95):
                    break
    finally:
        if beside is not None and stop_beside is not None:
            stop_beside()
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        proc.terminate()
        proc.wait(10)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="10,50,100,200,300")
    parser.add_argument("--baseline-steps", default="1,2,4")
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    packets = encode_vp8()
    forward = await run("forward", [int(x) for x in args.steps.split(",")], args.window, packets)
    baseline = await run(
        "reencode", [int(x) for x in args.baseline_steps.split(",")], args.window, packets
    )
    ok = [r for r in forward if r.min_delivery >= 0.95 and r.cpu_share <= 0.97]
    best = ok[-1] if ok else None
    per_fwd = (
        statistics.median(r.ms_per_viewer_s for r in forward if r.viewers >= 50)
        if any(r.viewers >= 50 for r in forward)
        else forward[-1].ms_per_viewer_s
    )
    per_base = statistics.median(r.ms_per_viewer_s for r in baseline)
    print("\n== summary ==")
    print(
        f"forwarding: {per_fwd:.2f} ms CPU per viewer-second "
        f"-> ~{1000 / per_fwd:.0f} viewers per core (extrapolated)"
    )
    if best:
        print(
            f"largest step served at >=95% to every viewer: {best.viewers} viewers, "
            f"{best.cpu_share * 100:.0f}% of the core"
        )
    print(
        f"MediaRelay re-encoding: {per_base:.1f} ms CPU per viewer-second "
        f"-> ~{1000 / per_base:.1f} viewers per core"
    )
    print(f"ratio: forwarding costs 1/{per_base / per_fwd:.0f} of re-encoding per viewer")
    mem = [r.rss_per_viewer_mib for r in forward if r.viewers >= 50]
    if mem:
        print(f"memory: ~{statistics.median(mem) * 1024:.0f} KiB RSS per viewer")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
