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
import os
import statistics
import struct

import aiohttp

from bench.fanout import free_port
from bench.stage_peers import Counter, encode_vp8, light_viewer, publish


class FrameClock:
    def __init__(self) -> None:
        self.sent: dict[int, float] = {}

    def __call__(self, data: bytes, at: float) -> None:
        if len(data) < 12 or 192 <= data[1] <= 223:
            return
        b1, _seq, ts = struct.unpack_from("!BHI", data, 1)
        if b1 & 0x80 and (b1 & 0x7F) != 111 and len(data) > 200:
            self.sent[ts] = at  # marker on video: last packet of the frame


def delays(clock: FrameClock, counter: Counter) -> list[float]:
    if not counter.frames or not clock.sent:
        return []
    sent_ts = set(clock.sent)
    best: tuple[int, int] = (0, 0)
    for ts0, _ in counter.frames[:5]:
        for cand in list(sent_ts)[:4000]:
            off = (ts0 - cand) & 0xFFFFFFFF
            hits = sum(1 for ts, _ in counter.frames[:50] if ((ts - off) & 0xFFFFFFFF) in sent_ts)
            if hits > best[0]:
                best = (hits, off)
    off = best[1]
    out = []
    for ts, at in counter.frames:
        src = (ts - off) & 0xFFFFFFFF
        if src in clock.sent:
            out.append((at - clock.sent[src]) * 1000)
    return out


async def run(background: int, seconds: float, packets: list) -> list[float]:
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "bench.stage_server", "--port", str(port)],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    pcs = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(base + "/nothing"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            clock = FrameClock()
            pcs.append(await publish(http, base, packets, on_rtp=clock))
            await asyncio.sleep(2)
            for i in range(0, background, 10):
                batch = [Counter() for _ in range(min(10, background - i))]
                pcs.extend(await asyncio.gather(*(light_viewer(http, base, c) for c in batch)))
            measured = Counter(record_frames=True)
            pcs.append(await light_viewer(http, base, measured))
            await asyncio.sleep(3)
            measured.frames.clear()
            await asyncio.sleep(seconds)
            return delays(clock, measured)
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        proc.terminate()
        proc.wait(10)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--background", default="0,200")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
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
