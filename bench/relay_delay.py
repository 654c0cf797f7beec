"""How long the relay holds a frame: publisher send -> viewer socket, through the server.

    python -m bench.relay_delay [--background 0,200]

The server runs pinned to CPU 0 (as in bench/fanout.py). The publisher and a
measured viewer run here on CPU 1 with one clock: for every video frame the
time from the publisher handing its last RTP packet to SRTP, to that packet
arriving at the viewer's socket. Frames are matched by RTP timestamp (the
server shifts it by a constant per viewer). With background viewers the
measured viewer joins last, so it is served last in the fan-out loop: the
worst case. An upper bound on the delay added: it includes both loopback hops.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import struct
import subprocess
import sys

import aiohttp

from bench.fanout import free_port
from bench.stage_peers import (
    Counter,
    encode_vp8,
    light_viewer,
    publish,
    spawn_stage_server,
    wait_up,
)


class FrameClock:
    """Publisher side: when the last packet of each frame went to SRTP, per SSRC."""

    def __init__(self) -> None:
        self.sent: dict[int, dict[int, float]] = {}

    def __call__(self, data: bytes, at: float) -> None:
        if len(data) < 12 or 192 <= data[1] <= 223:
            return
        b1, _seq, ts, ssrc = struct.unpack_from("!BHII", data, 1)
        if b1 & 0x80:
            self.sent.setdefault(ssrc, {})[ts] = at


def delays(clock: FrameClock, counter: Counter) -> list[float]:
    """Per-frame delay, matching frames by RTP timestamp up to the server's offset.

    Frames are 3000 ticks apart, so every multiple of 3000 "matches"; the true
    offset is the one giving the smallest non-negative delay.
    """
    if not counter.frames or not clock.sent:
        return []

    # Video: 3000 ticks per frame (90 kHz, 30 fps); Opus: 960 per packet.
    def step(tss: list[int]) -> int:
        tss = sorted(tss)
        return statistics.median(b - a for a, b in itertools.pairwise(tss)) if len(tss) > 2 else 0

    sent = max(clock.sent.values(), key=lambda d: step(list(d)))
    by_ssrc: dict[int, list[tuple[int, float]]] = {}
    for ssrc, ts, at in counter.frames:
        by_ssrc.setdefault(ssrc, []).append((ts, at))
    frames = max(by_ssrc.values(), key=lambda fs: step([ts for ts, _ in fs]))
    ts0, at0 = frames[0]
    # Candidate offsets: publisher frames sent up to 1 s before the first arrival.
    # The true one is the smallest that makes no frame arrive before it was sent.
    best: list[float] = []
    for sent_ts, sent_at in sent.items():
        if not 0 <= at0 - sent_at <= 1.0:
            continue
        offset = (ts0 - sent_ts) & 0xFFFFFFFF
        out = [
            (at - sent[src]) * 1000
            for ts, at in frames
            if (src := (ts - offset) & 0xFFFFFFFF) in sent
        ]
        if (
            out
            and min(out) > -0.5
            and (not best or statistics.median(out) < statistics.median(best))
        ):
            best = out
    return best


async def run(background: int, seconds: float, packets: list) -> list[float]:
    port = free_port()
    proc = spawn_stage_server(port)
    base = f"http://127.0.0.1:{port}"
    pcs = []
    try:
        async with aiohttp.ClientSession() as http:
            await wait_up(http, base)
            clock = FrameClock()
            pcs.append(await publish(http, base, packets, on_rtp=clock))
            await asyncio.sleep(2)
            crowd = None
            if background:
                # The other viewers live in their own process, so that the measured
                # viewer's socket is read promptly and only the server's delay shows.
                crowd = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.relay_delay",
                        "--crowd",
                        str(background),
                        "--base",
                        base,
                        "--seconds",
                        str(seconds + 60),
                    ],
                    cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                assert crowd.stdout is not None
                line = await asyncio.get_running_loop().run_in_executor(None, crowd.stdout.readline)
                print(f"  {line.strip()}", flush=True)
            measured = Counter(record_frames=True)
            pcs.append(await light_viewer(http, base, measured))
            await asyncio.sleep(3)
            measured.frames.clear()
            await asyncio.sleep(seconds)
            if crowd is not None:
                crowd.terminate()
            return delays(clock, measured)
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        proc.terminate()
        proc.wait(10)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def crowd(n: int, base: str, seconds: float) -> None:
    """Helper process: n counting viewers, then wait."""
    counters = [Counter() for _ in range(n)]
    pcs = []
    async with aiohttp.ClientSession() as http:
        for i in range(0, n, 10):
            pcs.extend(
                await asyncio.gather(*(light_viewer(http, base, c) for c in counters[i : i + 10]))
            )
        deadline = asyncio.get_running_loop().time() + 60
        while not all(c.total() for c in counters) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
        print(f"{sum(1 for c in counters if c.total())} of {n} other viewers receiving", flush=True)
        await asyncio.sleep(seconds)
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--background", default="0,200")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--crowd", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--base", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    if args.crowd:
        await crowd(args.crowd, args.base, args.seconds)
        return
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    packets = encode_vp8()
    for n in (int(x) for x in args.background.split(",")):
        d = await run(n, args.seconds, packets)
        if not d:
            print(f"{n} other viewers: no frames matched")
            continue
        print(
            f"{n:4d} other viewers: {len(d)} frames, publisher send -> viewer socket "
            f"p50 {statistics.median(d):.2f} ms, p95 {pct(d, 95):.2f} ms, "
            f"max {max(d):.2f} ms",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
