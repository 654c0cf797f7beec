"""Many processes: what a second process adds, and what an edge hop costs.

    python -m bench.cluster capacity [--steps 100,200,300 | --steps 60:300:10] [--window 8]
                                     [--quota 0.35 [--period-ms 10] [--harness 2]]
    python -m bench.cluster delay [--seconds 15]

capacity: the same harness twice, in one run. (1) one stage server; (2) a
  holder and an edge sharing a private Redis, viewers split evenly between
  them (the edge pulls the stage once). The publisher (pre-encoded VP8
  ~1 Mbit/s + Opus) and the counting viewers run here, unpinned. Viewers are
  added step by step until one of them gets < 95 % of the publisher's
  packets; prints the largest step served and the ratio (2) / (1).
  Without --quota each server is pinned to its own core (0, then 1) and a
  server past 97 % of it also ends the run; on a 2-core machine the viewers
  then need the very cores the servers are pinned to, so (2) never reaches
  its limit. With --quota Q each server instead gets Q of a core through a
  cgroup v1 CPU quota (root needed): both setups reach their limit while the
  rest of the machine carries the publisher and the viewers, spread over
  --harness helper processes (bench.viewer_pool). Steps are then per
  process (2 x step viewers in (2)). A step that fails is measured once more:
  it counts as served only if the second window passes (both counts printed).
  A step whose publisher falls below 90 % of its first rate (ICE consent lost
  by a starved holder) is a failure too.
delay: a publisher on the holder, one viewer on the holder and one on the
  edge, same run, one clock: publisher send -> viewer socket per frame; the
  difference is what the hop adds.
Prints figures only; never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.fanout import TICK, Sent, cpu_seconds, free_port
from bench.relay_delay import FrameClock, delays, pct
from bench.stage_peers import (
    ROOT,
    Counter,
    encode_vp8,
    light_viewer,
    publish,
    spawn_stage_server,
    wait_up,
)
from bench.viewer_pool import Pool
from tests.support import redis_server


async def _patient(http: aiohttp.ClientSession, base: str) -> None:
    """wait_up for a loaded machine: a server may take a while to import aiortc."""
    for _ in range(12):
        await wait_up(http, base)
        try:
            async with http.get(base + "/bench/stats"):
                return
        except aiohttp.ClientError:
            continue


class Quota:
    """A cgroup v1 CPU group capping what its processes get: `cores` of CPU time per
    `period_us`. A short period keeps a throttled server from sitting idle long
    enough to turn its fan-out into bursts; a high cpu.shares makes the quota,
    not the harness beside it, what the server runs out of."""

    ROOT = Path("/sys/fs/cgroup/cpu")

    def __init__(self, name: str, cores: float, period_us: int) -> None:
        self.path = self.ROOT / name
        self.path.mkdir()
        _LIVE.append(self)
        (self.path / "cpu.cfs_period_us").write_text(str(period_us))
        (self.path / "cpu.cfs_quota_us").write_text(str(round(cores * period_us)))
        (self.path / "cpu.shares").write_text("8192")

    def stat(self) -> dict[str, int]:
        lines = (self.path / "cpu.stat").read_text().split("\n")
        return {k: int(v) for k, v in (line.split() for line in lines if line)}

    def remove(self) -> None:
        if not self.path.exists():
            return
        for pid in (self.path / "cgroup.procs").read_text().split():
            # Leftovers go back to the root group, or the group cannot go.
            with contextlib.suppress(OSError):  # exited meanwhile
                (self.ROOT / "cgroup.procs").write_text(pid)
        self.path.rmdir()


_LIVE: list[Quota] = []


def _remove_quotas() -> None:
    while _LIVE:
        try:
            _LIVE.pop().remove()
        except OSError as e:
            print(f"could not remove a cgroup: {e}", flush=True)


def _spawn(i: int, port: int, args: list[str], quota: Quota | None) -> subprocess.Popen[bytes]:
    if quota is None:  # the original setup: pinned to core i
        return spawn_stage_server(port, *args, log=f"/tmp/halqa-bench-cluster-{i}.log", cpu=i)
    # Into the group before exec: every thread the server ever starts is capped.
    return subprocess.Popen(
        ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(quota.path / "cgroup.procs"),
         sys.executable, "-m", "bench.stage_server", "--port", str(port), *args],
        cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=open(f"/tmp/halqa-bench-cluster-{i}.log", "w"))


Servers = list[tuple[str, subprocess.Popen[bytes]]]  # (base URL, process)


def _servers(n: int, redis_url: str, quotas: list[Quota]) -> Servers:
    out = []
    for i in range(n):
        port = free_port()
        proc = _spawn(i, port, ["--redis", redis_url, "--node", f"n{i}"],
                      quotas[i] if quotas else None)
        out.append((f"http://127.0.0.1:{port}", proc))
    return out


def _stop(servers: Servers) -> None:
    for _, proc in servers:
        proc.terminate()
    for _, proc in servers:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Window:
    shares: list[float]  # per viewer: received / publisher sent, sorted
    cpus: list[float]  # per server: cores over the window
    throttled: list[float]  # per server: share of periods the quota cut short
    harness: list[float]  # cores: this process (publisher), then each viewer helper
    send_rate: float  # publisher's RTP packets/s
    busy: float  # cores the whole machine used (everything beside included)


def _busy_seconds() -> float:
    """CPU seconds the machine has spent on anything but idle and iowait."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


async def _window(seconds: float, sent: Sent, viewers: Pool, pids: list[int],
                  quotas: list[Quota]) -> Window:
    await viewers.reset()
    mine = [os.getpid(), *viewers.pids()] if viewers.helpers else [os.getpid()]
    before, t0, busy0 = sent.count, time.monotonic(), _busy_seconds()
    cpu0, own0, q0 = [cpu_seconds(p) for p in pids], [cpu_seconds(p) for p in mine], \
        [q.stat() for q in quotas]
    await asyncio.sleep(seconds)
    totals = await viewers.totals()
    wall = time.monotonic() - t0
    expected = sent.count - before
    q1 = [q.stat() for q in quotas]
    return Window(
        shares=sorted(min(1.0, t / expected) if expected else 0.0 for t in totals),
        cpus=[(cpu_seconds(p) - c) / wall for p, c in zip(pids, cpu0, strict=True)],
        throttled=[_throttled(a, b) for a, b in zip(q0, q1, strict=True)],
        harness=[(cpu_seconds(p) - c) / wall for p, c in zip(mine, own0, strict=True)],
        send_rate=expected / wall, busy=(_busy_seconds() - busy0) / wall)


def _throttled(a: dict[str, int], b: dict[str, int]) -> float:
    return (b["nr_throttled"] - a["nr_throttled"]) / max(1, b["nr_periods"] - a["nr_periods"])


def _line(n: int, step: int, w: Window, ok: bool, note: str = "") -> str:
    cpu = ", ".join(f"{c * 100:.0f}%" for c in w.cpus)
    beside = w.busy - sum(w.cpus) - sum(w.harness)
    thr = f" (throttled {', '.join(f'{t * 100:.0f}%' for t in w.throttled)} of periods)" \
        if w.throttled else ""
    return (f"[{n} process{'es' if n > 1 else ''}] {step:4d} viewers: delivery min "
            f"{w.shares[0] * 100:5.1f}% median {statistics.median(w.shares) * 100:5.1f}%; "
            f"server CPU {cpu}{thr}; harness {' + '.join(f'{h * 100:.0f}%' for h in w.harness)}; "
            f"publisher {w.send_rate:.1f} pkt/s; beside (redis too) {beside:.2f} core; "
            f"{'ok' if ok else 'over'}{note}; load {os.getloadavg()[0]:.1f}")


async def capacity_run(n: int, steps: list[int], window: float, packets: list[Any],
                       redis_url: str, cpu_at: dict[int, float], quotas: list[Quota],
                       helpers: int) -> tuple[int, int]:
    """(largest audience served, the same counting a step as served only if its first
    window passed). With a quota the steps are per process: each server of (2) then
    gets the same +10 per step as the one of (1), and both counts have the same
    resolution per server; without, the steps are the whole audience, as always."""
    servers = _servers(n, redis_url, quotas)
    pcs = []
    best = first = 0
    failed_once = False
    try:
        async with aiohttp.ClientSession() as http:
            viewers = await Pool(http, helpers).start()
            try:
                for base, _ in servers:
                    await _patient(http, base)
                sent = Sent()
                pcs.append(await publish(http, servers[0][0], packets, on_rtp=sent))
                await asyncio.sleep(3)
                rate = 0.0  # the publisher's packets/s in the first window
                for step in steps:
                    total = step * n if quotas else step
                    while viewers.n < total:
                        await viewers.add([b for b, _ in servers],
                                          min(10 * (n if quotas else 1), total - viewers.n))
                    if missing := await viewers.wait(60):
                        print(f"{missing} viewer(s) had no media after 60 s", flush=True)
                    await asyncio.sleep(3)
                    pids = [proc.pid for _, proc in servers]
                    # With a quota a failing step gets one more window: a passing hiccup
                    # is not the limit.
                    for attempt in range(2 if quotas else 1):
                        w = await _window(window, sent, viewers, pids, quotas[:n])
                        rate = rate or w.send_rate
                        # A starved holder loses its publisher (ICE consent): every viewer
                        # then gets "all" of almost nothing, which is no success.
                        held = w.send_rate >= 0.9 * rate and w.send_rate > 0
                        # With a quota the server cannot pass it: delivery alone decides.
                        ok = held and w.shares[0] >= 0.95 and (bool(quotas) or max(w.cpus) <= 0.97)
                        note = " (second window)" if attempt else ""
                        print(_line(n, total, w, ok, note + ("" if held else " (publisher lost)")),
                              flush=True)
                        if ok:
                            break
                        failed_once = True
                    if held and w.shares[0] >= 0.95:
                        cpu_at[total] = sum(w.cpus)  # cores used for `total` viewers, all included
                    if not ok:
                        break
                    best = total
                    first = first if failed_once else total
            finally:
                await viewers.close()
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        _stop(servers)
    return best, first


async def delay_run(seconds: float, packets: list[Any], redis_url: str) -> None:
    servers = _servers(2, redis_url, [])
    pcs = []
    try:
        async with aiohttp.ClientSession() as http:
            for base, _ in servers:
                await _patient(http, base)
            clock = FrameClock()
            pcs.append(await publish(http, servers[0][0], packets, on_rtp=clock))
            await asyncio.sleep(2)
            direct, hop = Counter(record_frames=True), Counter(record_frames=True)
            pcs.append(await light_viewer(http, servers[0][0], direct))
            pcs.append(await light_viewer(http, servers[1][0], hop))
            await asyncio.sleep(4)
            direct.frames.clear()
            hop.frames.clear()
            await asyncio.sleep(seconds)
            d, e = delays(clock, direct), delays(clock, hop)
            if not d or not e:
                print("no frames matched")
                return
            for name, v in (("holder's viewer", d), ("edge's viewer", e)):
                print(f"{name:16s}: {len(v)} frames, publisher send -> viewer socket p50 "
                      f"{statistics.median(v):.2f} ms, p95 {pct(v, 95):.2f} ms, "
                      f"max {max(v):.2f} ms")
            print(f"one edge hop adds: p50 {statistics.median(e) - statistics.median(d):.2f} ms, "
                  f"p95 {pct(e, 95) - pct(d, 95):.2f} ms")
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        _stop(servers)


def _steps(spec: str) -> list[int]:
    """"50,100,150" or "start:stop:by" (stop included)."""
    if ":" in spec:
        a, b, c = (int(x) for x in spec.split(":"))
        return list(range(a, b + 1, c))
    return [int(x) for x in spec.split(",")]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["capacity", "delay"])
    parser.add_argument("--steps", default="100,200,300,400,500,600")
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--quota", type=float, default=0.0,
                        help="cores of CPU each server gets (cgroup v1 quota); 0: one pinned core")
    parser.add_argument("--period-ms", type=float, default=10.0)
    parser.add_argument("--one", action="store_true",
                        help="the one-process setup only: the limit behind the admission caps")
    parser.add_argument("--harness", type=int, default=None,
                        help="viewer helper processes (default 2 with --quota, else 0: in-process)")
    args = parser.parse_args()
    helpers = args.harness if args.harness is not None else (2 if args.quota else 0)
    if args.quota and not os.access(Quota.ROOT, os.W_OK):
        parser.error(f"--quota needs root and a cgroup v1 cpu hierarchy at {Quota.ROOT}")
    if args.quota < 0 or (args.quota and args.quota * args.period_ms < 1) \
            or not 1 <= args.period_ms <= 1000:
        parser.error("--quota must give at least 1 ms per period; --period-ms 1 to 1000")
    # SIGTERM unwinds like Ctrl-C: servers, viewers and cgroups are cleaned up.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    packets = encode_vp8()
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        if args.what == "delay":
            await delay_run(args.seconds, packets, redis_url)
            return
        steps = _steps(args.steps)
        quotas = [Quota(f"halqa-bench-{os.getpid()}-{i}", args.quota, round(args.period_ms * 1000))
                  for i in range(2)] if args.quota else []
        if quotas:
            print(f"each server: {args.quota} core ({quotas[0].path}, period "
                  f"{args.period_ms} ms); viewers in {helpers} helper process(es)", flush=True)
        cpu1: dict[int, float] = {}
        cpu2: dict[int, float] = {}
        try:
            one = await capacity_run(1, steps, args.window, packets, redis_url, cpu1, quotas,
                                     helpers)
            two = (await capacity_run(2, steps, args.window, packets, redis_url, cpu2, quotas,
                                      helpers)) if not args.one else (0, 0)
        finally:
            _remove_quotas()
        print(f"\nlargest audience served at >= 95 % to every viewer: 1 process {one[0]}"
              + ("" if args.one else f", 2 processes {two[0]}; ratio "
                 f"{two[0] / one[0] if one[0] else float('nan'):.2f}"))
        if quotas and not args.one:
            print(f"the same, a step served only if its first window passed: 1 process "
                  f"{one[1]}, 2 processes {two[1]}; ratio "
                  f"{two[1] / one[1] if one[1] else float('nan'):.2f}")
        if quotas:
            # What a viewer costs at the limit, ingest and pull included: the
            # figure behind the admission caps (docs/operations.md).
            for name, (best, _), cpu in (("1 process", one, cpu1), ("2 processes", two, cpu2)):
                if best in cpu:
                    print(f"{name} at {best} viewers: {cpu[best]:.2f} core(s), "
                          f"{cpu[best] / best * 1000:.2f} ms of CPU per viewer-second")
        # Less sensitive to a loaded machine: the cores each setup burns for the
        # same audience, the pull and both ingests included. Two cores then
        # carry 2 / (cores per viewer with 2 processes) viewers, one core
        # 1 / (cores per viewer with 1): the ratio of the two.
        for step in sorted(set(cpu1) & set(cpu2)):
            print(f"{step} viewers: 1 process {cpu1[step]:.2f} core, 2 processes "
                  f"{cpu2[step]:.2f} cores -> capacity ratio from CPU "
                  f"{2 * cpu1[step] / cpu2[step]:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        _remove_quotas()  # whatever stopped the run
