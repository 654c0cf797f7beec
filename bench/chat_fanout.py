"""Chat fan-out: one message → N connected participants, delivery delay p50/p99.

Runs twice: one `halqa serve` process (SQLite, in-memory presence), then two
processes sharing a private redis-server and a throw-away PostgreSQL (half
the participants on each; the sender on the first). Clients are spread over
worker processes so the measuring side is not the bottleneck. Delay = the
receiver's wall clock at arrival − the sender's wall clock just before
`chat:send` (one machine, one clock).

    python -m bench.chat_fanout [--participants 700] [--messages 30]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
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


def worker(urls_tokens: list[tuple[str, str]], session: str, expect: int,
           ready: Any, go: Any, out: Any, deflate: bool) -> None:
    """A client process: connects its share, joins, reports every arrival."""
    async def main() -> None:
        arrivals: list[tuple[int, float]] = []

        def on_event(event: str, data: Any, now: float) -> None:
            if event == "chat:message" and data["text"].startswith("bench "):
                sent = float(data["text"].split()[2])
                arrivals.append((int(data["text"].split()[1]), now - sent))

        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as http:
            clients = []
            for i in range(0, len(urls_tokens), 50):
                batch = [RawClient(http, u, t, on_event, deflate)
                         for u, t in urls_tokens[i:i + 50]]
                await asyncio.gather(*(c.connect() for c in batch))
                acks = await asyncio.gather(*(c.call("session:join", {"session": session})
                                              for c in batch))
                assert all(a["ok"] for a in acks), acks[:2]
                clients += batch
            ready.set()
            while not go.is_set():
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + 120
            while len(arrivals) < expect * len(clients) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            out.put(arrivals)
            for c in clients:
                await c.close()

    asyncio.run(main())


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the server processes (immune to other load)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


async def run(urls: list[str], org: str, n: int, messages: int, workers: int,
              deflate: bool = True, pids: list[int] | None = None) -> dict[str, Any]:
    pids = pids or []
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{urls[0]}/api/program") as r:
            session = (await r.json())["sessions"][SESSION_INDEX]["id"]
        tokens = await register_many(http, urls[0], n + 1)
        sender_token, tokens = tokens[0], tokens[1:]
        pairs = [(urls[i % len(urls)], t) for i, t in enumerate(tokens)]
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        readies, procs = [], []
        for w in range(workers):
            ready = ctx.Event()
            p = ctx.Process(target=worker, args=(pairs[w::workers], session, messages, ready,
                                                 go, out, deflate))
            p.start()
            readies.append(ready)
            procs.append(p)
        t0 = time.monotonic()
        while not all(r.is_set() for r in readies):
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a client worker failed")
            await asyncio.sleep(0.1)
        connect_s = time.monotonic() - t0
        sender = await RawClient(http, urls[0], sender_token).connect()
        assert (await sender.call("session:join", {"session": session}))["ok"]
        go.set()
        await asyncio.sleep(1.0)
        # Idle CPU (heartbeats, count ticks, pings) over as long as the send phase.
        phase = messages * 0.5
        c0 = cpu_seconds(pids)
        await asyncio.sleep(phase)
        idle_cpu = cpu_seconds(pids) - c0
        c0, t_send = cpu_seconds(pids), time.monotonic()
        send_acks = []
        for i in range(messages):
            t = time.time()
            ack = await sender.call("chat:send", {"session": session,
                                                  "text": f"bench {i} {t:.6f}"})
            send_acks.append(time.time() - t)
            assert ack["ok"], ack
            await asyncio.sleep(0.5)
        busy_cpu = cpu_seconds(pids) - c0
        idle_scaled = idle_cpu * (time.monotonic() - t_send) / phase
        results: list[tuple[int, float]] = []
        for _ in procs:
            results += await asyncio.get_running_loop().run_in_executor(None, out.get)
        for p in procs:
            p.join(30)
        await sender.close()
    delays = [d * 1000 for _, d in results]
    last_per_msg: dict[int, float] = {}
    for i, d in results:
        last_per_msg[i] = max(last_per_msg.get(i, 0.0), d * 1000)
    return {
        "participants": n, "messages": messages, "deflate": deflate, "deliveries": len(delays),
        "expected": n * messages, "connect_join_s": round(connect_s, 1),
        "p50_ms": round(pct(delays, 50), 1), "p99_ms": round(pct(delays, 99), 1),
        "max_ms": round(max(delays), 1) if delays else None,
        "last_of_700_p50_ms": round(pct(list(last_per_msg.values()), 50), 1),
        "last_of_700_by_message_ms": [round(last_per_msg[i]) for i in sorted(last_per_msg)],
        "ack_p50_ms": round(pct([x * 1000 for x in send_acks], 50), 1),
        "server_cpu_ms_per_message": round((busy_cpu - idle_scaled) / messages * 1000, 1),
        "server_cpu_us_per_delivery": round((busy_cpu - idle_scaled) / messages / n * 1e6, 1),
    }


def env_common(org: str) -> dict[str, str]:
    # 700 clients from one address: the per-address handshake limit is lifted too.
    return {"HALQA_ORGANIZER_TOKEN": org, "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000000",
            "HALQA_LIMITS__HANDSHAKES_PER_MINUTE": "1000000",
            "HALQA_INTERACTION__CHAT_RATE": "100000", "HALQA_LOG_LEVEL": "warning"}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=700)
    ap.add_argument("--messages", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=["one", "two"], default=None)
    ap.add_argument("--no-deflate", action="store_true",
                    help="clients do not negotiate permessage-deflate (browsers do)")
    args = ap.parse_args()
    org = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        if args.only in (None, "one"):
            a = await ServerProcess(tmpd / "one", env_common(org)).start()
            try:
                r = await run([a.url], org, args.participants, args.messages, args.workers,
                              not args.no_deflate, [a.proc.pid] if a.proc else [])
            finally:
                a.stop()
            print("one process (SQLite, in-memory presence):", r, flush=True)
        if args.only in (None, "two"):
            if not await pg_reachable():
                print("SKIPPED: two processes need PostgreSQL at 127.0.0.1:5432")
                return
            with redis_server(tmpd) as redis_url:
                async with throwaway_pg() as pg:
                    env = {**env_common(org), "HALQA_REDIS_URL": redis_url,
                           "HALQA_DATABASE_URL": pg}
                    a = await ServerProcess(tmpd / "a", env).start()
                    b = await ServerProcess(tmpd / "b", env).start()
                    try:
                        r = await run([a.url, b.url], org, args.participants, args.messages,
                                      args.workers, not args.no_deflate,
                                      [p.proc.pid for p in (a, b) if p.proc])
                    finally:
                        a.stop()
                        b.stop()
                    print("two processes (Redis pub/sub, PostgreSQL):", r, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
