"""Presence under churn: 700 participants joining and leaving across two
`halqa serve` processes (shared private redis-server + PostgreSQL).

Reports, after each burst, the count each process pushes (`presence:count`)
and the organizer API's count against the true count, and how long until
they agree; then the Redis commands one join, one heartbeat and one chat
message cost (`INFO commandstats`, after `CONFIG RESETSTAT`).

    python -m bench.presence_churn [--participants 700] [--rounds 8] [--ttl 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sio_raw import RawClient, pct, register_many  # noqa: E402
from tests.support import ServerProcess, redis_server, throwaway_pg  # noqa: E402


class Observer:
    """A moderator's connection (staff are not counted) recording pushed counts."""

    def __init__(self) -> None:
        self.count: int | None = None
        self.pushes = 0

    def on_event(self, event: str, data: Any, now: float) -> None:
        if event == "presence:count":
            self.count = data["count"]
            self.pushes += 1


async def api_count(http: aiohttp.ClientSession, url: str, org: str, session: str) -> int:
    async with http.get(f"{url}/api/live/{session}",
                        headers={"Authorization": f"Bearer {org}"}) as r:
        return int((await r.json())["count"])


async def agree_after(http: aiohttp.ClientSession, urls: list[str], org: str, session: str,
                      observers: list[Observer], truth: int, limit: float = 10) -> dict[str, Any]:
    """How long after now until every process's pushed count and API equal the truth."""
    t0 = time.monotonic()
    first = [o.count for o in observers]
    while True:
        apis = [await api_count(http, u, org, session) for u in urls]
        pushed = [o.count for o in observers]
        if all(c == truth for c in pushed + apis):
            return {"truth": truth, "pushed_at_end": first,
                    "agree_s": round(time.monotonic() - t0, 2)}
        if time.monotonic() - t0 > limit:
            return {"truth": truth, "pushed_at_end": first, "agree_s": None,
                    "stuck_at": pushed + apis}
        await asyncio.sleep(0.05)


async def commandstats(r: Redis) -> dict[str, int]:
    info = await r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=700)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--churn", type=int, default=100, help="leave and join per round")
    ap.add_argument("--ttl", type=int, default=30)
    args = ap.parse_args()
    n = args.participants
    org = secrets.token_urlsafe(24)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        async with throwaway_pg() as pg:
            env = {"HALQA_ORGANIZER_TOKEN": org, "HALQA_REDIS_URL": redis_url,
                   "HALQA_DATABASE_URL": pg, "HALQA_PRESENCE_TTL": str(args.ttl),
                   "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000000",
                   "HALQA_INTERACTION__CHAT_RATE": "100000", "HALQA_LOG_LEVEL": "warning"}
            a = await ServerProcess(Path(tmp) / "a", env).start()
            b = await ServerProcess(Path(tmp) / "b", env).start()
            redis = Redis.from_url(redis_url, decode_responses=True)
            try:
                await bench(a.url, b.url, org, n, args, rng, redis)
            finally:
                await redis.aclose()
                a.stop()
                b.stop()


async def bench(url_a: str, url_b: str, org: str, n: int, args: Any, rng: random.Random,
                redis: Redis) -> None:
    urls = [url_a, url_b]
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        async with http.get(f"{url_a}/api/program") as r:
            session = (await r.json())["sessions"][1]["id"]
        tokens = await register_many(http, url_a, n + args.churn, "churn")
        observers = [Observer(), Observer()]
        for url, obs in zip(urls, observers, strict=True):
            async with http.post(f"{url}/api/invites", json={"role": "moderator",
                                 "session": session},
                                 headers={"Authorization": f"Bearer {org}"}) as r:
                mod = (await r.json())["token"]
            c = await RawClient(http, url, mod, obs.on_event).connect()
            await c.call("session:join", {"session": session})

        live: dict[str, RawClient] = {}

        async def join(token: str) -> None:
            c = await RawClient(http, rng.choice(urls), token).connect()
            ack = await c.call("session:join", {"session": session})
            assert ack["ok"], ack
            live[token] = c

        async def leave(token: str) -> None:
            await live.pop(token).close()

        # Ramp up to n, 100 at a time.
        t0 = time.monotonic()
        for i in range(0, n, 100):
            await asyncio.gather(*(join(t) for t in tokens[i:min(i + 100, n)]))
        ramp = time.monotonic() - t0
        res = await agree_after(http, urls, org, session, observers, len(live))
        print(f"ramp: {n} joined in {ramp:.1f} s; {res}", flush=True)

        agree: list[float] = []
        for rnd in range(args.rounds):
            out = rng.sample(sorted(live), args.churn)
            spare = [t for t in tokens if t not in live and t not in out]
            ins = rng.sample(spare, min(args.churn, len(spare)))
            await asyncio.gather(*(leave(t) for t in out), *(join(t) for t in ins))
            res = await agree_after(http, urls, org, session, observers, len(live))
            print(f"round {rnd}: -{len(out)} +{len(ins)} {res}", flush=True)
            if res["agree_s"] is not None:
                agree.append(res["agree_s"])
        print(f"churn: agreed in {len(agree)}/{args.rounds} rounds; time to agree "
              f"p50 {pct(agree, 50):.2f} s, max {max(agree or [float('nan')]):.2f} s; "
              f"pushes seen A={observers[0].pushes} B={observers[1].pushes}", flush=True)

        # Redis commands per join: 50 fresh joins, in a window with no heartbeat
        # refresh in it (a refresh shows as ZADDs beyond two per join); retried.
        spare = [t for t in tokens if t not in live]
        attempt = 0
        for attempt in range(4):  # noqa: B007 (reported below)
            batch, spare = spare[:25], spare[25:]
            await redis.config_resetstat()
            await asyncio.gather(*(join(t) for t in batch))
            per_join = await commandstats(redis)
            if per_join.get("zadd", 0) <= 2 * len(batch):
                break
        ticks = per_join.get("evalsha", 0) - len(batch)
        print(f"redis per join (attempt {attempt + 1}, {len(batch)} joins; {ticks} count-tick "
              f"scripts of the two processes fell in the window): "
              f"{ {k: round(v / len(batch), 2) for k, v in sorted(per_join.items())} }",
              flush=True)
        await asyncio.sleep(2)
        await redis.config_resetstat()
        idle = 3 * args.ttl / 3 + 0.5
        await asyncio.sleep(idle)
        stats = await commandstats(redis)
        print(f"redis idle for {idle:.1f} s with {len(live)} participants on 2 processes "
              f"(heartbeat every ttl/3 = {args.ttl / 3:.0f} s per process, count tick 1/s per "
              f"process): {stats}", flush=True)
        sender = next(iter(live.values()))
        await redis.config_resetstat()
        for i in range(20):
            await sender.call("chat:send", {"session": session, "text": f"m{i}"})
        stats = await commandstats(redis)
        print(f"redis per chat message (20 sent): "
              f"{ {k: round(v / 20, 2) for k, v in stats.items()} }", flush=True)
        for c in list(live.values()):
            await c.close()


if __name__ == "__main__":
    asyncio.run(main())
