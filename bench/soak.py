"""Soak: a plenary's day in minutes, on two processes.

    python -m bench.soak [--participants 700] [--viewers 100] [--minutes 10]

Two `halqa serve` processes share a private redis-server and a throw-away
PostgreSQL database (SQLite when no PostgreSQL answers at 127.0.0.1:5432).
Participants connect over Socket.IO (a minimal wire client, spread over
worker processes and alternating between the two servers), join the plenary
and, at a plenary's pace, chat (~1 message/s in all), ask questions (one
every ~10 s) and vote (~5/s). A speaker publishes on each process's stage
(pre-encoded VP8 640x360 ~1 Mbit/s + Opus) and WHEP viewers, half on each,
count packets without decoding.

At the end: every message acknowledged vs the deliveries seen by every
connected participant and the rows in the database; disconnects; each
server's memory (RSS) and open descriptors at start and end; viewers' packet
rate. `run_soak()` is also what the CI soak test calls, with fewer clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import secrets
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sio_raw import RawClient, register_many  # noqa: E402
from tests.support import ServerProcess, pg_reachable, redis_server, throwaway_pg  # noqa: E402


@dataclass
class SoakConfig:
    participants: int = 700
    viewers: int = 100
    seconds: float = 600
    workers: int = 2
    chat_per_s: float = 1.0  # all participants together
    questions_per_s: float = 0.1
    votes_per_s: float = 5.0
    video_seconds: int = 4  # of pre-encoded video, replayed in a loop


def proc_figures(pid: int) -> dict[str, float]:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return {"rss_mib": round(rss, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def worker(pairs: list[tuple[str, str]], session: str, cfg: SoakConfig, share: float,
           ready: Any, go: Any, stop: Any, out: Any) -> None:
    """One client process: its share of participants and of the activity."""

    async def main() -> None:
        seen: dict[str, set[int]] = {"chat": set(), "question": set()}
        receipts: dict[int, int] = {}  # chat id -> how many of our clients got it
        disconnects = 0
        acked_chat: list[int] = []
        acked_questions: list[int] = []
        refused: dict[str, int] = {}
        questions: list[int] = []

        def on_event(event: str, data: Any, now: float) -> None:
            if event == "chat:message":
                receipts[data["id"]] = receipts.get(data["id"], 0) + 1
            elif (event == "question:update" and data.get("status") == "approved"
                  and data["id"] not in seen["question"]):
                seen["question"].add(data["id"])
                questions.append(data["id"])

        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as http:
            clients: list[RawClient] = []
            for i in range(0, len(pairs), 50):
                batch = [RawClient(http, u, t, on_event) for u, t in pairs[i:i + 50]]
                await asyncio.gather(*(c.connect() for c in batch))
                acks = await asyncio.gather(*(c.call("session:join", {"session": session})
                                              for c in batch))
                assert all(a["ok"] for a in acks), acks[:2]
                clients += batch
            ready.set()
            while not go.is_set():
                await asyncio.sleep(0.05)

            async def act(kind: str, rate: float) -> None:
                nonlocal disconnects
                rng = random.Random(f"{kind}{os.getpid()}")
                n = 0
                while not stop.is_set():
                    await asyncio.sleep(rng.expovariate(rate * share) if rate * share else 1)
                    c = rng.choice(clients)
                    if c.ws is None or c.ws.closed:
                        continue
                    n += 1
                    try:
                        if kind == "chat":
                            ack = await c.call("chat:send", {"session": session,
                                                             "text": f"soak {os.getpid()} {n}"})
                            if ack["ok"]:
                                acked_chat.append(ack["message"]["id"])
                        elif kind == "question":
                            ack = await c.call("question:ask", {"session": session,
                                                                "text": f"soak question {n}?"})
                            if ack["ok"]:
                                acked_questions.append(ack["question"]["id"])
                        else:
                            if not questions:
                                continue
                            ack = await c.call("question:vote",
                                               {"question": rng.choice(questions)})
                        if not ack["ok"]:
                            refused[ack["error"]] = refused.get(ack["error"], 0) + 1
                    except (TimeoutError, ConnectionError, RuntimeError):
                        refused["timeout_or_closed"] = refused.get("timeout_or_closed", 0) + 1

            tasks = [asyncio.create_task(act(k, r)) for k, r in
                     (("chat", cfg.chat_per_s), ("question", cfg.questions_per_s),
                      ("vote", cfg.votes_per_s))]
            while not stop.is_set():
                await asyncio.sleep(0.2)
            for t in tasks:
                await asyncio.gather(t, return_exceptions=True)
            await asyncio.sleep(3)  # last deliveries
            disconnects = sum(1 for c in clients if c.ws is None or c.ws.closed)
            out.put({"clients": len(clients), "acked_chat": acked_chat,
                     "acked_questions": acked_questions, "receipts": receipts,
                     "disconnects": disconnects, "refused": refused})
            for c in clients:
                await c.close()

    asyncio.run(main())


async def _db_chat_ids(database_url: str) -> set[int]:
    if database_url.startswith("postgresql"):
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(database_url)
        try:
            return {r[0] for r in await conn.fetch("SELECT id FROM chat_message")}
        finally:
            await conn.close()
    import sqlite3

    with sqlite3.connect(database_url.split("///", 1)[1]) as db:
        return {r[0] for r in db.execute("SELECT id FROM chat_message")}


async def run_soak(cfg: SoakConfig, tmp: Path) -> dict[str, Any]:
    from bench.stage_peers import Counter, encode_vp8, light_viewer, publish

    org = secrets.token_urlsafe(24)
    env = {"HALQA_ORGANIZER_TOKEN": org, "HALQA_LOG_LEVEL": "warning",
           "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000000",
           "HALQA_LIMITS__REQUESTS_PER_MINUTE": "1000000",
           "HALQA_LIMITS__HANDSHAKES_PER_MINUTE": "1000000",
           # Every client runs on this machine: one address for all of them.
           "HALQA_MEDIA__MAX_VIEWERS_PER_ADDRESS": "100000",
           "HALQA_MEDIA__OFFERS_PER_10S": "100000"}
    async with AsyncExitStack() as stack:
        redis_url = stack.enter_context(redis_server(tmp))
        if await pg_reachable():
            database_url = await stack.enter_async_context(throwaway_pg())
            db_kind = "PostgreSQL"
        else:
            database_url = f"sqlite:///{tmp / 'soak.db'}"
            db_kind = "SQLite (no PostgreSQL reachable)"
        env |= {"HALQA_REDIS_URL": redis_url, "HALQA_DATABASE_URL": database_url}
        servers = [ServerProcess(tmp / name, env) for name in ("a", "b")]
        try:
            # One after the other: two processes loading the demo event into
            # an empty database at once collide (event_pkey).
            for server in servers:
                await server.start(timeout=180)
        except BaseException:
            for s in servers:
                s.stop()
            raise
        try:
            return await _drive(cfg, servers, org, database_url, db_kind,
                                Counter, encode_vp8, light_viewer, publish)
        finally:
            for s in servers:
                s.stop()


async def _drive(cfg: SoakConfig, servers: list[ServerProcess], org: str, database_url: str,
                 db_kind: str, Counter: Any, encode_vp8: Any, light_viewer: Any,
                 publish: Any) -> dict[str, Any]:
    urls = [s.url for s in servers]
    pids = [s.proc.pid for s in servers if s.proc]
    auth = {"Authorization": f"Bearer {org}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async with http.get(f"{urls[0]}/api/program") as r:
            ids = [s["id"] for s in (await r.json())["sessions"]]
        plenary, second = ids[0], ids[1]
        # Q&A open (no moderator in the loop): questions are public at once.
        mod = await RawClient(http, urls[0], org).connect()
        ack = await mod.call("session:update", {"session": plenary, "qa_mode": "open"})
        assert ack["ok"], ack
        tokens = await register_many(http, urls[0], cfg.participants, prefix="soak")
        pairs = [(urls[i % 2], t) for i, t in enumerate(tokens)]

        # Media: one speaker per process's stage, viewers half on each.
        packets = await asyncio.to_thread(encode_vp8, cfg.video_seconds)
        speakers = []
        for url, session in zip(urls, (plenary, second), strict=True):
            async with http.post(f"{url}/api/invites", headers=auth,
                                 json={"role": "speaker", "session": session}) as r:
                speakers.append(await publish(http, url, packets, session,
                                              token=(await r.json())["token"]))
        viewer_tokens = await register_many(http, urls[1], cfg.viewers, prefix="soakv")
        counter = Counter()
        viewers = []
        for i, tok in enumerate(viewer_tokens):
            viewers.append(await light_viewer(http, urls[i % 2], counter,
                                              (plenary, second)[i % 2], tok))

        ctx = mp.get_context("spawn")
        go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        procs, readies = [], []
        for w in range(cfg.workers):
            ready = ctx.Event()
            p = ctx.Process(target=worker, args=(pairs[w::cfg.workers], plenary, cfg,
                                                 1 / cfg.workers, ready, go, stop, out))
            p.start()
            procs.append(p)
            readies.append(ready)
        t0 = time.monotonic()
        while not all(r.is_set() for r in readies):
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a client worker failed")
            await asyncio.sleep(0.2)
        connect_s = time.monotonic() - t0
        await asyncio.sleep(3)
        start = {str(pid): proc_figures(pid) for pid in pids}
        samples = []
        counter.reset()
        go.set()
        t_run = time.monotonic()
        while time.monotonic() - t_run < cfg.seconds:
            await asyncio.sleep(min(60, cfg.seconds / 5))
            samples.append({"t_s": round(time.monotonic() - t_run),
                            **{str(pid): proc_figures(pid) for pid in pids}})
        media_packets = counter.total()
        stop.set()
        results = [await asyncio.get_running_loop().run_in_executor(None, out.get)
                   for _ in procs]
        for p in procs:
            p.join(60)
        end = {str(pid): proc_figures(pid) for pid in pids}
        for pc in viewers + speakers:
            await pc.close()
        await mod.close()

    connected = sum(r["clients"] for r in results)
    acked = [i for r in results for i in r["acked_chat"]]
    receipts: dict[int, int] = {}
    for r in results:
        for k, v in r["receipts"].items():
            receipts[int(k)] = receipts.get(int(k), 0) + v
    missing = sum(connected - receipts.get(i, 0) for i in acked)
    in_db = await _db_chat_ids(database_url)
    refused: dict[str, int] = {}
    for r in results:
        for k, v in r["refused"].items():
            refused[k] = refused.get(k, 0) + v
    return {
        "participants": connected, "viewers": len(viewers), "seconds": cfg.seconds,
        "database": db_kind, "connect_join_s": round(connect_s, 1),
        "chat_acked": len(acked), "chat_deliveries_expected": len(acked) * connected,
        "chat_deliveries_missing": missing, "chat_acked_not_in_db": len(set(acked) - in_db),
        "questions_acked": sum(len(r["acked_questions"]) for r in results),
        "refused": refused, "disconnects": sum(r["disconnects"] for r in results),
        "viewer_packets_per_s": round(media_packets / cfg.seconds / max(1, len(viewers)), 1),
        "servers_start": start, "servers_end": end, "samples": samples,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=700)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    cfg = SoakConfig(a.participants, a.viewers, a.minutes * 60, a.workers)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_soak(cfg, Path(tmp)))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
