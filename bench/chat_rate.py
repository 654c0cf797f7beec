"""Chat to N participants at a steady message rate: delivery delay, loss, order, server CPU.

For each server layout (one process: SQLite, in-memory presence; two processes:
a private redis-server + a throw-away PostgreSQL, clients and senders split
between them) and each fan-out path, the benchmark connects N participants
(spread over client worker processes), then sends chat at each rate for
`--duration` seconds from `--senders` identities, and reports:

- delivery delay p50/p99/max (receiver's clock at arrival − sender's clock just
  before `chat:send`; one machine, one clock),
- lost deliveries, and whether every receiver saw the same sequence
  ("one order": a hash of each receiver's sequence of message ids),
- server CPU per message and per delivery (`/proc/<pid>/stat` of the server
  processes, idle CPU over an equal window subtracted).

Paths (`--paths`):
  emit   the server's `chat_fanout = "emit"`: one `chat:message` per message,
         python-socketio's emit (a task per recipient) — what halqa did before;
  tick   `chat_fanout = "tick"`, clients opted in to `chat:batch`;
  single `chat_fanout = "tick"`, clients that do not batch (`chat:message`).

    python -m bench.chat_rate [--participants 700] [--rates 1,50] [--duration 60]
                              [--layouts one,two] [--paths emit,tick] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sio_raw import RawClient, pct, register_many  # noqa: E402
from tests.support import ServerProcess, pg_reachable, redis_server, throwaway_pg  # noqa: E402

SESSION_INDEX = 0


class Receiver:
    """One participant's view: arrival delays and the sequence of message ids."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.ids: list[int] = []
        self.sent_at: dict[int, float] = {}
        self.phase = ""

    def on_event(self, event: str, data: Any, now: float) -> None:
        if event == "chat:batch":
            for m in data["messages"]:
                self._one(m, now)
        elif event == "chat:message":
            self._one(data, now)

    def _one(self, m: dict[str, Any], now: float) -> None:
        parts = m["text"].split()
        if parts[0] != self.phase:
            return
        self.delays.append(now - float(parts[2]))
        self.ids.append(m["id"])
        self.sent_at[m["id"]] = float(parts[2])


def worker(urls_tokens: list[tuple[str, str]], session: str, batch: bool, deflate: bool,
           ready: Any, cmd: Any, out: Any) -> None:
    """A client process: connects its share, joins, then for each phase
    records arrivals until told the expected count."""
    async def main() -> None:
        auth = {"features": ["chat:batch"]} if batch else {}
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as http:
            receivers: list[Receiver] = []
            clients: list[RawClient] = []
            for i in range(0, len(urls_tokens), 50):
                rs = [Receiver() for _ in urls_tokens[i:i + 50]]
                batch_c = [RawClient(http, u, t, r.on_event, deflate, auth)
                           for (u, t), r in zip(urls_tokens[i:i + 50], rs, strict=True)]
                await asyncio.gather(*(c.connect() for c in batch_c))
                acks = await asyncio.gather(*(c.call("session:join", {"session": session})
                                              for c in batch_c))
                assert all(a["ok"] for a in acks), acks[:2]
                receivers += rs
                clients += batch_c
            ready.set()
            loop = asyncio.get_running_loop()
            while True:
                msg = await loop.run_in_executor(None, cmd.get)
                if msg[0] == "stop":
                    break
                if msg[0] == "phase":
                    for r in receivers:
                        r.phase, r.delays, r.ids, r.sent_at = msg[1], [], [], {}
                    continue
                # ("collect", expected): wait until every receiver has them all.
                expected, deadline = msg[1], time.monotonic() + 60
                while (any(len(r.ids) < expected for r in receivers)
                       and time.monotonic() < deadline):
                    await asyncio.sleep(0.1)
                # Per message: first and last arrival over this process's receivers.
                spread: dict[int, list[float]] = {}
                for r in receivers:
                    for i, d in zip(r.ids, r.delays, strict=True):
                        lo_hi = spread.setdefault(i, [d, d, r.sent_at[i]])
                        lo_hi[0], lo_hi[1] = min(lo_hi[0], d), max(lo_hi[1], d)
                out.put({
                    "spread": spread,
                    "dropped": sum(c.dropped for c in clients),
                    "delays": [d for r in receivers for d in r.delays],
                    "counts": [len(r.ids) for r in receivers],
                    "orders": [hashlib.sha1(repr(r.ids).encode()).hexdigest()
                               for r in receivers],
                    "reordered": sum(
                        any(a == b for a, b in zip(r.ids, r.ids[1:], strict=False))
                        or len(set(r.ids)) != len(r.ids) for r in receivers),
                })
            for c in clients:
                await c.close()

    asyncio.run(main())


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_each(pids))


def cpu_each(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


async def send_phase(senders: list[RawClient], session: str, phase: str, rate: float,
                     duration: float) -> tuple[int, list[float]]:
    """Send `rate` messages a second for `duration` s, round-robin over the senders;
    acks are awaited concurrently so a slow ack never delays the schedule."""
    n = max(1, round(rate * duration))
    t0 = time.monotonic() + 0.2
    pending: list[asyncio.Task[Any]] = []
    acks: list[float] = []

    async def one(i: int) -> None:
        t = time.time()
        # A path that falls behind acks late; the run records it, not crash.
        ack = await senders[i % len(senders)].call(
            "chat:send", {"session": session, "text": f"{phase} {i} {t:.6f}"}, timeout=300)
        acks.append(time.time() - t)
        assert ack["ok"], ack

    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(i)))
    await asyncio.gather(*pending)
    return n, acks


async def run_layout(urls: list[str], pids: list[int], n: int, rates: list[float],
                     durations: dict[float, float], workers: int, n_senders: int, batch: bool,
                     deflate: bool, profile: Path | None, label: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{urls[0]}/api/program") as r:
            session = (await r.json())["sessions"][SESSION_INDEX]["id"]
        tokens = await register_many(http, urls[0], n + n_senders, prefix=label)
        sender_tokens, tokens = tokens[:n_senders], tokens[n_senders:]
        pairs = [(urls[i % len(urls)], t) for i, t in enumerate(tokens)]
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        readies, cmds, procs = [], [], []
        for w in range(workers):
            ready, cmd = ctx.Event(), ctx.Queue()
            p = ctx.Process(daemon=True, target=worker,
                            args=(pairs[w::workers], session, batch, deflate, ready, cmd, out))
            p.start()
            readies.append(ready)
            cmds.append(cmd)
            procs.append(p)
        t0 = time.monotonic()
        while not all(r.is_set() for r in readies):
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a client worker failed")
            await asyncio.sleep(0.2)
        connect_s = time.monotonic() - t0
        senders = [await RawClient(http, urls[i % len(urls)], t, deflate=False).connect()
                   for i, t in enumerate(sender_tokens)]
        for s in senders:
            assert (await s.call("session:join", {"session": session}))["ok"]
        results = []
        for rate in rates:
            duration = durations[rate]
            phase = f"r{rate:g}-{secrets.token_hex(3)}"
            for c in cmds:
                c.put(("phase", phase))
            await asyncio.sleep(2.0)
            idle_window = 5.0
            c0 = cpu_seconds(pids)
            await asyncio.sleep(idle_window)
            idle_rate = (cpu_seconds(pids) - c0) / idle_window
            spy = _start_spy(profile, pids, f"{label}-{rate:g}", duration)
            load = os.getloadavg()
            client_pids = [p.pid for p in procs if p.pid is not None]
            each0, k0 = cpu_each(pids), cpu_seconds(client_pids)
            me0 = time.process_time()
            ts = time.monotonic()
            sent, acks = await send_phase(senders, session, phase, rate, duration)
            sending_s = time.monotonic() - ts
            # CPU is read once every receiver has every message (or after the
            # workers' 60 s wait): a path that falls behind pays its catch-up.
            for c in cmds:
                c.put(("collect", sent))
            parts = [await asyncio.get_running_loop().run_in_executor(None, out.get)
                     for _ in procs]
            span = time.monotonic() - ts
            each = [b - a for a, b in zip(each0, cpu_each(pids), strict=True)]
            busy = sum(each) - idle_rate * span
            clients_cores = (cpu_seconds(client_pids) - k0) / span
            sender_cores = (time.process_time() - me0) / span
            if spy is not None:
                spy.wait()
            delays = [d * 1000 for p in parts for d in p["delays"]]
            first: dict[int, float] = {}
            last: dict[int, float] = {}
            sent_at: dict[int, float] = {}
            for p in parts:
                for i, (lo, hi, at) in p["spread"].items():
                    first[i] = min(first.get(i, lo), lo)
                    last[i] = max(last.get(i, hi), hi)
                    sent_at[i] = at
            counts = [c for p in parts for c in p["counts"]]
            orders = {o for p in parts for o in p["orders"]}
            results.append({
                "layout": label, "rate_per_s": rate, "seconds": duration, "sent": sent,
                "participants": n, "connect_join_s": round(connect_s, 1),
                "p50_ms": round(pct(delays, 50), 1), "p99_ms": round(pct(delays, 99), 1),
                "max_ms": round(max(delays), 1) if delays else None,
                "lost": n * sent - sum(counts),
                "receivers_short": sum(c < sent for c in counts),
                "distinct_orders": len(orders),
                "receivers_with_duplicates_or_repeats": sum(p["reordered"] for p in parts),
                "ack_p50_ms": round(pct([a * 1000 for a in acks], 50), 1),
                "ack_p99_ms": round(pct([a * 1000 for a in acks], 99), 1),
                "first_arrival_p50_ms": round(pct([v * 1000 for v in first.values()], 50), 1),
                "last_arrival_p50_ms": round(pct([v * 1000 for v in last.values()], 50), 1),
                "last_arrival_p99_ms": round(pct([v * 1000 for v in last.values()], 99), 1),
                # The slowest messages: (send wall time, first, last arrival ms),
                # to match against the servers' GC log (--gc-log).
                "slowest": [(round(sent_at[i], 3), round(first[i] * 1000), round(last[i] * 1000))
                            for i in sorted(last, key=last.__getitem__)[-5:]],
                "disconnected": sum(p["dropped"] for p in parts),
                "sending_s": round(sending_s, 1), "until_all_delivered_s": round(span, 1),
                "server_cpu_cores": round(busy / span + idle_rate, 2),
                "server_cores_each": [round(e / span, 2) for e in each],
                "client_procs_cores": round(clients_cores, 2),
                "sender_proc_cores": round(sender_cores, 2),
                "load_at_start": [round(x, 2) for x in load],
                "server_cpu_ms_per_message": round(busy / sent * 1000, 2),
                "server_cpu_us_per_delivery": round(busy / max(1, sum(counts)) * 1e6, 2),
                "load_avg": os.getloadavg()[0],
            })
            print(results[-1], flush=True)
        for c in cmds:
            c.put(("stop",))
        for p in procs:
            p.join(30)
        for s in senders:
            await s.close()
    return results


def _start_spy(profile: Path | None, pids: list[int], name: str,
               duration: float) -> subprocess.Popen[bytes] | None:
    if profile is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    profile.mkdir(parents=True, exist_ok=True)
    # The first server only: where the sender's messages and half the clients are.
    return subprocess.Popen([spy, "record", "-p", str(pids[0]), "-d", str(int(duration)),
                             "-r", "50", "-f", "raw", "-o", str(profile / f"{name}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def env_for(org: str, path: str) -> dict[str, str]:
    # 700 clients from one address: the per-address handshake limit is lifted too.
    return {"HALQA_ORGANIZER_TOKEN": org, "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000000",
            "HALQA_LIMITS__HANDSHAKES_PER_MINUTE": "1000000",
            "HALQA_LIMITS__REQUESTS_PER_MINUTE": "1000000",
            "HALQA_INTERACTION__CHAT_RATE": "100000", "HALQA_LOG_LEVEL": "warning",
            "HALQA_INTERACTION__CHAT_FANOUT": "emit" if path == "emit" else "tick"}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=700)
    ap.add_argument("--rates", default="1,50")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--emit-duration", type=float, default=None,
                    help="a shorter send phase for the old path at rates >= 10/s (it cannot "
                         "keep up at 50/s: 60 s of it is minutes of catch-up)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--layouts", default="one,two")
    ap.add_argument("--paths", default="emit,tick")
    ap.add_argument("--no-deflate", action="store_true",
                    help="clients do not negotiate permessage-deflate (browsers do)")
    ap.add_argument("--gc-log", type=Path, default=None,
                    help="servers log collections >= 5 ms here (bench/gc_probe)")
    ap.add_argument("--gc-threshold", default=None,
                    help="an experiment: the servers' gc.set_threshold, e.g. 50000,20,100 "
                         "(applied by bench/gc_probe; needs --gc-log)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="py-spy raw profiles of the first server per phase into this folder")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    org = secrets.token_urlsafe(24)
    print(f"conditions: {os.cpu_count()} CPUs, load {os.getloadavg()}, "
          f"python {sys.version.split()[0]}", flush=True)
    summary: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        for layout in args.layouts.split(","):
            for path in args.paths.split(","):
                label = f"{layout}-{path}"
                env = env_for(org, path)
                if args.gc_log:
                    args.gc_log.mkdir(parents=True, exist_ok=True)
                    env |= {"HALQA_GC_LOG": str(args.gc_log.resolve()),
                            "PYTHONPATH": str(ROOT / "bench" / "gc_probe")}
                    if args.gc_threshold:
                        env["HALQA_GC_THRESHOLD"] = args.gc_threshold
                stack = contextlib.AsyncExitStack()
                async with stack:
                    if layout == "two":
                        if not await pg_reachable():
                            print("SKIPPED two: needs PostgreSQL at 127.0.0.1:5432")
                            continue
                        redis_url = stack.enter_context(redis_server(tmpd))
                        pg = await stack.enter_async_context(throwaway_pg())
                        env = {**env, "HALQA_REDIS_URL": redis_url, "HALQA_DATABASE_URL": pg}
                    servers = []
                    for i in range(2 if layout == "two" else 1):
                        s = await ServerProcess(tmpd / f"{label}-{i}", env).start()
                        stack.callback(s.stop)
                        servers.append(s)
                    summary += await run_layout(
                        [s.url for s in servers], [s.proc.pid for s in servers if s.proc],
                        args.participants, rates,
                        {r: args.emit_duration if path == "emit" and args.emit_duration
                         and r >= 10 else args.duration for r in rates},
                        args.workers, args.senders,
                        path == "tick", not args.no_deflate, args.profile, label)
    print("\nsummary")
    for r in summary:
        print(f"{r['layout']:>12} {r['rate_per_s']:>5g}/s p50 {r['p50_ms']:>7} p99 "
              f"{r['p99_ms']:>7} ms lost {r['lost']} orders {r['distinct_orders']} "
              f"dropped {r['disconnected']} clients {r['client_procs_cores']} cores "
              f"cpu {r['server_cpu_cores']} cores, {r['server_cpu_us_per_delivery']} µs/delivery")
    by = {(r["layout"], r["rate_per_s"]): r for r in summary}
    for (label, rate), r in by.items():
        if label.endswith("-tick"):
            base = by.get((label.replace("-tick", "-emit"), rate))
            if base and r["server_cpu_us_per_delivery"] > 0:
                print(f"ratio {label} vs emit at {rate:g}/s: CPU per delivery "
                      f"{base['server_cpu_us_per_delivery'] / r['server_cpu_us_per_delivery']:.1f}×"
                      " lower")


if __name__ == "__main__":
    asyncio.run(main())
