"""Counting viewers for bench.cluster, in this process or spread over helper processes.

    python -m bench.viewer_pool    (a helper: one JSON command a line on stdin, answers on stdout)

At a server's limit the harness must not be the bottleneck: one Python
process counting RTP for a couple of hundred light viewers is itself a good
share of a core, and a late harness would show up as "loss". So the viewers
can be spread over K helper processes (`bench.cluster capacity --harness K`),
each with its own event loop; K = 0 keeps them in the caller's process, as
the benchmark always did.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection

from bench.stage_peers import ROOT, Counter, light_viewer


class Viewers:
    """Light viewers (bench.stage_peers) of one process, driven by small commands."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.counters: list[Counter] = []
        self.pcs: list[RTCPeerConnection] = []

    async def handle(self, cmd: dict[str, Any]) -> Any:
        op = cmd["op"]
        if op == "add":
            batch = [Counter() for _ in range(cmd["n"])]
            got = await asyncio.gather(*(light_viewer(self.http, cmd["base"], c) for c in batch),
                                       return_exceptions=True)
            self.pcs.extend(pc for pc in got if isinstance(pc, RTCPeerConnection))
            self.counters.extend(c for c, pc in zip(batch, got, strict=True)
                                 if isinstance(pc, RTCPeerConnection))
            errors = [repr(e) for e in got if isinstance(e, BaseException)]
            if errors:
                raise RuntimeError(f"{len(errors)} viewer(s) failed to join: {errors[0]}")
            return len(self.counters)
        if op == "wait":  # until every viewer has had media at all
            deadline = time.monotonic() + cmd["timeout"]
            while time.monotonic() < deadline and not all(c.total() for c in self.counters):
                await asyncio.sleep(0.5)
            return sum(1 for c in self.counters if not c.total())
        if op == "reset":
            for c in self.counters:
                c.reset()
            return None
        if op == "totals":
            return [c.total() for c in self.counters]
        if op == "close":
            await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)
            self.pcs.clear()
            return None
        raise ValueError(f"unknown op {op!r}")


class Pool:
    """K helper processes (or this process when K = 0) holding the counting viewers."""

    def __init__(self, http: aiohttp.ClientSession, helpers: int) -> None:
        self.local = Viewers(http) if helpers == 0 else None
        self.procs: list[asyncio.subprocess.Process] = []
        self.locks: list[asyncio.Lock] = []
        self.helpers = helpers
        self.n = 0

    async def start(self) -> Pool:
        for _ in range(self.helpers):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.viewer_pool", cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=1 << 22)  # a totals answer for a few hundred viewers is one line
            self.procs.append(proc)
            self.locks.append(asyncio.Lock())
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs] or [os.getpid()]

    async def _ask(self, i: int, cmd: dict[str, Any]) -> Any:
        if self.local is not None:
            return await self.local.handle(cmd)
        proc = self.procs[i]
        assert proc.stdin is not None and proc.stdout is not None
        async with self.locks[i]:
            proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            await proc.stdin.drain()
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"viewer helper {proc.pid} exited (rc {proc.returncode})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"viewer helper {proc.pid}: {answer['error']}")
        return answer["ok"]

    async def _all(self, cmd: dict[str, Any]) -> list[Any]:
        return await asyncio.gather(*(self._ask(i, cmd) for i in range(max(1, self.helpers))))

    async def add(self, servers: list[str], count: int) -> None:
        """`count` more viewers: viewer j on server j % S, in helper (j // S) % K, so
        each helper holds as many of each server's viewers."""
        per: dict[tuple[int, str], int] = {}
        for j in range(self.n, self.n + count):
            key = (j // len(servers) % max(1, self.helpers), servers[j % len(servers)])
            per[key] = per.get(key, 0) + 1
        self.n += count
        await asyncio.gather(*(self._ask(i, {"op": "add", "base": b, "n": n})
                               for (i, b), n in per.items()))

    async def wait(self, timeout: float) -> int:
        return sum(await self._all({"op": "wait", "timeout": timeout}))

    async def reset(self) -> None:
        await self._all({"op": "reset"})

    async def totals(self) -> list[int]:
        return [t for part in await self._all({"op": "totals"}) for t in part]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._all({"op": "close"}), 30)
        except Exception as e:  # closing is best effort; the processes go anyway
            print(f"closing viewers: {e!r}", flush=True)
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def helper() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with aiohttp.ClientSession() as http:
        viewers = Viewers(http)
        try:
            while line := await reader.readline():
                try:
                    answer = {"ok": await viewers.handle(json.loads(line))}
                except Exception as e:  # reported to the driver, which stops
                    answer = {"error": repr(e)}
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()
        finally:
            await viewers.handle({"op": "close"})


if __name__ == "__main__":
    asyncio.run(helper())
