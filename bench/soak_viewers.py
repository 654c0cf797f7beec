"""The soak's WHEP viewers, in processes of their own.

Each viewer completes ICE/DTLS with aiortc, then counts the RTP datagrams
reaching its sockets (SRTP headers are clear text) without decrypting or
decoding. Viewers run apart from the process that drives the soak, so the
counts measure the servers and not a bench loop busy with something else.

Every offer the servers refuse is counted by status and code (all viewers
come from 127.0.0.1: the per-address cap would refuse them unless the soak
raises it, and the soak says so in its figures).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Packets:
    """RTP datagrams seen at one viewer's sockets (every one, repeats included:
    a 16-bit sequence number wraps within a 10-minute run)."""

    n: int = 0

    def datagram(self, data: bytes) -> bool:
        if len(data) < 12 or not 128 <= data[0] <= 191 or 192 <= data[1] <= 223:
            return False  # not RTP (STUN, DTLS, RTCP): aiortc handles it
        self.n += 1
        return True


def refusal(error: str) -> str:
    """`post()` raises "<url>: <status> <body>"; keep "<status> <code>"."""
    _, _, rest = error.partition(": ")
    status, _, body = rest.partition(" ")
    try:
        code = json.loads(body).get("error", "?")
    except (ValueError, AttributeError):
        code = body[:40]
    return f"{status} {code}"


def viewer_worker(assign: list[tuple[str, str, str]], sample_s: float,
                  ready: Any, go: Any, stop: Any, out: Any) -> None:
    """One viewer process: `assign` is (server url, session, token) per viewer."""
    asyncio.run(_viewers(assign, sample_s, ready, go, stop, out))


async def _viewers(assign: list[tuple[str, str, str]], sample_s: float,
                   ready: Any, go: Any, stop: Any, out: Any) -> None:
    from bench.stage_peers import light_viewer

    counts = [Packets() for _ in assign]
    pcs: list[Any] = [None] * len(assign)
    refused: dict[str, int] = {}
    t0 = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(i: int) -> None:
            url, session, token = assign[i]
            try:
                pcs[i] = await light_viewer(http, url, counts[i], session, token)  # type: ignore[arg-type]
            except RuntimeError as e:
                key = refusal(str(e))
                refused[key] = refused.get(key, 0) + 1

        # Ten offers at a time, as a room fills: each completes ICE meanwhile.
        for i in range(0, len(assign), 10):
            await asyncio.gather(*(one(j) for j in range(i, min(i + 10, len(assign)))))
        admitted = [i for i, pc in enumerate(pcs) if pc is not None]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(counts[i].n for i in admitted):
            await asyncio.sleep(0.2)
        setup_s = time.monotonic() - t0
        receiving_at_start = sum(1 for i in admitted if counts[i].n)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)

        t_go = last = time.monotonic()
        base = [c.n for c in counts]
        prev = list(base)
        timeline: list[dict[str, Any]] = []
        stalled = 0  # (viewer, interval) pairs that received nothing
        while not stop.is_set():
            await asyncio.sleep(0.2)
            now = time.monotonic()
            if now - last < sample_s and not stop.is_set():
                continue
            seen = [c.n for c in counts]
            deltas = [seen[i] - prev[i] for i in admitted]
            stalled += sum(1 for d in deltas if d == 0)
            timeline.append({"t_s": round(now - t_go), "packets": sum(deltas),
                             "viewers_stalled": sum(1 for d in deltas if d == 0),
                             "min_pps": round(min(deltas, default=0) / (now - last), 1)})
            prev, last = seen, now
        run_s = time.monotonic() - t_go
        pps = [(counts[i].n - base[i]) / run_s for i in admitted]
        out.put({
            "viewers": len(assign), "admitted": len(admitted), "refused": refused,
            "setup_s": round(setup_s, 1), "receiving_at_start": receiving_at_start,
            "pps": pps, "stalled_intervals": stalled, "timeline": timeline,
            "states_end": [pcs[i].connectionState for i in admitted],
        })
        for i in admitted:
            await pcs[i].close()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The viewer workers' figures as one."""
    pps = sorted(p for r in results for p in r["pps"])
    refused: dict[str, int] = {}
    states: dict[str, int] = {}
    for r in results:
        for k, v in r["refused"].items():
            refused[k] = refused.get(k, 0) + v
        for s in r["states_end"]:
            states[s] = states.get(s, 0) + 1
    return {
        "viewers": sum(r["viewers"] for r in results),
        "viewers_admitted": sum(r["admitted"] for r in results),
        "viewers_refused": refused,
        "viewer_setup_s": max((r["setup_s"] for r in results), default=0),
        "viewers_receiving_at_start": sum(r["receiving_at_start"] for r in results),
        "viewers_receiving": sum(1 for p in pps if p > 0),
        "viewer_pps_min_median_max": ([round(pps[0], 1), round(statistics.median(pps), 1),
                                       round(pps[-1], 1)] if pps else []),
        "viewer_stalled_intervals": sum(r["stalled_intervals"] for r in results),
        "viewer_states_end": states,
        "viewer_timelines": [r["timeline"] for r in results],
    }
