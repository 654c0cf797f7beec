"""Soak: a plenary's day in minutes, on two processes.

    python -m bench.soak [--participants 700] [--viewers 100] [--minutes 10]

Two `halqa serve` processes share a private redis-server and a throw-away
PostgreSQL database (SQLite when no PostgreSQL answers at 127.0.0.1:5432).
Participants connect over Socket.IO (a minimal wire client, spread over
worker processes and alternating between the two servers), join the plenary
and, at a plenary's pace, chat (~1 message/s in all), ask questions (one
every ~10 s) and vote (~5/s). A speaker publishes on each process's stage
(pre-encoded VP8 640x360 ~1 Mbit/s + Opus) and WHEP viewers, half on each,
count packets without decoding, in processes of their own (bench/soak_viewers.py)
set up before the participants connect.

At the end: every message and question acknowledged vs what every connected
participant received and the rows in the database; disconnects; refusals
(viewers' included, by status and code); each server's memory (RSS) and open
descriptors idle, at the start, sampled through the run and after everyone
left; each viewer's packet rate and any sampling interval in which a viewer
received nothing. Limits the soak raises because every client shares
127.0.0.1 are listed in the figures (`raised_for_bench`). `run_soak()` is also
what the CI soak test calls, with fewer clients.
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

from bench.proc_figures import proc_figures, tcp_peers  # noqa: E402
from bench.sio_raw import RawClient, register_many  # noqa: E402
from bench.soak_viewers import merge, viewer_worker  # noqa: E402
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
    viewer_workers: int = 2  # processes the viewers run in
    sample_s: float = 30  # memory, descriptors and viewers' packets sampled this often


async def _pause(seconds: float, stop: Any) -> None:
    """Sleep, but wake when the run ends (a question may wait ~20 s)."""
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        await asyncio.sleep(min(0.2, end - time.monotonic()))


def worker(pairs: list[tuple[str, str]], session: str, cfg: SoakConfig, quiet: Any,
           ready: Any, go: Any, stop: Any, out: Any) -> None:
    """One client process: its share of participants and of the activity.
    `quiet` counts the workers done sending (a shared integer)."""
    asyncio.run(_participants(pairs, session, cfg, quiet, ready, go, stop, out))


async def _participants(pairs: list[tuple[str, str]], session: str, cfg: SoakConfig,
                        quiet: Any, ready: Any, go: Any, stop: Any, out: Any) -> None:
    workers = cfg.workers
    share = 1 / workers
    # What each client received (sets: a repeat is counted apart, not twice).
    got_chat: list[set[int]] = [set() for _ in pairs]
    got_questions: list[set[int]] = [set() for _ in pairs]
    repeats = 0
    acked_chat: list[int] = []
    acked_questions: list[int] = []
    acked_votes: set[tuple[int, int]] = set()  # (client, question): one row each
    refused: dict[str, int] = {}
    questions: list[int] = []  # public questions, to vote on
    public: set[int] = set()

    def listener(i: int) -> Any:
        def on_event(event: str, data: Any, now: float) -> None:
            nonlocal repeats
            if event == "chat:message":
                repeats += data["id"] in got_chat[i]
                got_chat[i].add(data["id"])
            elif event == "question:update" and data.get("status") == "approved":
                if data["id"] not in public:
                    public.add(data["id"])
                    questions.append(data["id"])
                got_questions[i].add(data["id"])
        return on_event

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        clients = [RawClient(http, u, t, listener(i)) for i, (u, t) in enumerate(pairs)]
        for i in range(0, len(clients), 50):
            batch = clients[i:i + 50]
            await asyncio.gather(*(c.connect() for c in batch))
            acks = await asyncio.gather(*(c.call("session:join", {"session": session})
                                          for c in batch))
            assert all(a["ok"] for a in acks), acks[:2]
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)

        async def act(kind: str, rate: float) -> None:
            rng = random.Random(f"{kind}{os.getpid()}")
            n = 0
            while not stop.is_set():
                await _pause(rng.expovariate(rate * share) if rate * share else 1, stop)
                if stop.is_set():  # nothing new after the end: the others count now
                    break
                who = rng.randrange(len(clients))
                c = clients[who]
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
                        q = rng.choice(questions)
                        ack = await c.call("question:vote", {"question": q})
                        if ack["ok"]:
                            acked_votes.add((who, q))
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
        # Count only once every worker's last call is acknowledged: a message
        # acked after another worker counted would look lost.
        with quiet.get_lock():
            quiet.value += 1
        while quiet.value < workers:
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # last deliveries
        # RawClient never reconnects: a connection closed now was lost during the run.
        disconnects = sum(1 for c in clients if c.ws is None or c.ws.closed)
        receipts: dict[int, int] = {}  # message id -> how many of our clients got it
        for got in got_chat:
            for m in got:
                receipts[m] = receipts.get(m, 0) + 1
        q_receipts: dict[int, int] = {}
        for got in got_questions:
            for q in got:
                q_receipts[q] = q_receipts.get(q, 0) + 1
        out.put({"kind": "participants", "clients": len(clients), "acked_chat": acked_chat,
                 "acked_questions": acked_questions, "acked_votes": len(acked_votes),
                 "receipts": receipts, "question_receipts": q_receipts, "repeats": repeats,
                 "disconnects": disconnects, "refused": refused})
        for c in clients:
            await c.close()


async def _db_rows(database_url: str) -> dict[str, Any]:
    """What the history holds afterwards: chat and question ids, vote rows."""
    chat, questions, votes = ("SELECT id FROM chat_message", "SELECT id FROM question",
                              "SELECT count(*) FROM question_vote")
    if database_url.startswith("postgresql"):
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(database_url)
        try:
            return {"chat": {r[0] for r in await conn.fetch(chat)},
                    "questions": {r[0] for r in await conn.fetch(questions)},
                    "votes": await conn.fetchval(votes)}
        finally:
            await conn.close()
    import sqlite3

    with sqlite3.connect(database_url.split("///", 1)[1]) as db:
        return {"chat": {r[0] for r in db.execute(chat)},
                "questions": {r[0] for r in db.execute(questions)},
                "votes": db.execute(votes).fetchone()[0]}


def raised_settings(cfg: SoakConfig) -> dict[str, str]:
    """Limits the soak raises, and why: every client runs on this machine, so
    all 800 come from 127.0.0.1, where one person's limits would refuse them."""
    return {
        "HALQA_LIMITS__REGISTRATIONS_PER_MINUTE": "1000000",
        "HALQA_LIMITS__REQUESTS_PER_MINUTE": "1000000",
        "HALQA_LIMITS__HANDSHAKES_PER_MINUTE": "1000000",
        # The default (50) is one address's share; the soak's viewers all share one.
        "HALQA_MEDIA__MAX_VIEWERS_PER_ADDRESS": str(max(50, cfg.viewers)),
    }


async def run_soak(cfg: SoakConfig, tmp: Path) -> dict[str, Any]:
    org = secrets.token_urlsafe(24)
    env = {"HALQA_ORGANIZER_TOKEN": org, "HALQA_LOG_LEVEL": "warning", **raised_settings(cfg)}
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
            result = await _drive(cfg, servers, org)
        finally:
            for s in servers:
                s.stop()
        rows = await _db_rows(database_url)
    result["chat_acked_not_in_db"] = len(set(result.pop("acked_chat")) - rows["chat"])
    result["questions_acked_not_in_db"] = len(set(result.pop("acked_questions"))
                                              - rows["questions"])
    result["vote_rows_in_db"] = rows["votes"]
    result["database"] = db_kind
    result["raised_for_bench"] = raised_settings(cfg)
    return result


def _spawn(ctx: Any, target: Any, args: tuple[Any, ...], go: Any, stop: Any,
           out: Any) -> tuple[Any, Any]:
    """A client process: `target(*args, ready, go, stop, out)`."""
    ready = ctx.Event()
    p = ctx.Process(target=target, args=(*args, ready, go, stop, out))
    p.start()
    return p, ready


async def _until_ready(procs: list[Any], readies: list[Any]) -> float:
    t0 = time.monotonic()
    while not all(r.is_set() for r in readies):
        if any(p.exitcode not in (None, 0) for p in procs):
            raise RuntimeError("a client worker failed (its traceback is above)")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


async def _drive(cfg: SoakConfig, servers: list[ServerProcess], org: str) -> dict[str, Any]:
    from bench.stage_peers import encode_vp8, publish

    urls = [s.url for s in servers]
    pids = [s.proc.pid for s in servers if s.proc]
    auth = {"Authorization": f"Bearer {org}"}
    idle = {str(pid): proc_figures(pid) for pid in pids}  # before any client
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
        watch = [(urls[i % 2], (plenary, second)[i % 2], t) for i, t in enumerate(viewer_tokens)]

        ctx = mp.get_context("spawn")
        go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        # Viewers first (a room filling before the talk), in their own processes.
        vprocs = [_spawn(ctx, viewer_worker, (watch[w::cfg.viewer_workers], cfg.sample_s),
                         go, stop, out)
                  for w in range(cfg.viewer_workers) if watch[w::cfg.viewer_workers]]
        viewers_s = await _until_ready([p for p, _ in vprocs], [r for _, r in vprocs])
        quiet = ctx.Value("i", 0)
        pprocs = [_spawn(ctx, worker, (pairs[w::cfg.workers], plenary, cfg, quiet),
                         go, stop, out)
                  for w in range(cfg.workers)]
        connect_s = await _until_ready([p for p, _ in pprocs], [r for _, r in pprocs])
        await asyncio.sleep(3)
        start = {str(pid): proc_figures(pid) for pid in pids}
        samples = []
        go.set()
        t_run = time.monotonic()
        while time.monotonic() - t_run < cfg.seconds:
            await asyncio.sleep(min(cfg.sample_s, cfg.seconds - (time.monotonic() - t_run)))
            samples.append({"t_s": round(time.monotonic() - t_run),
                            **{str(pid): proc_figures(pid) for pid in pids}})
        stop.set()
        procs = [p for p, _ in vprocs + pprocs]
        results = [await asyncio.get_running_loop().run_in_executor(None, out.get, True, 120)
                   for _ in procs]
        for p in procs:
            p.join(60)
        # A speaker whose ICE consent expired (its loop too slow to answer)
        # is "closed" or "failed" here, and every viewer of its stage got nothing.
        speakers_end = [pc.connectionState for pc in speakers]
        for pc in speakers:
            await pc.close()
        await mod.close()
        await asyncio.sleep(5)  # the servers notice everyone gone
        after = {str(pid): {**proc_figures(pid), "tcp_peers": tcp_peers(pid)} for pid in pids}

    parts = [r for r in results if r.get("kind") == "participants"]
    connected = sum(r["clients"] for r in parts)
    acked = [i for r in parts for i in r["acked_chat"]]
    acked_q = [i for r in parts for i in r["acked_questions"]]

    def missing(ids: list[int], key: str) -> int:
        got: dict[int, int] = {}
        for r in parts:
            for k, v in r[key].items():
                got[int(k)] = got.get(int(k), 0) + v
        return sum(connected - got.get(i, 0) for i in ids)

    refused: dict[str, int] = {}
    for r in parts:
        for k, v in r["refused"].items():
            refused[k] = refused.get(k, 0) + v
    return {
        "participants": connected, "seconds": cfg.seconds,
        "viewers_setup_s": round(viewers_s, 1), "connect_join_s": round(connect_s, 1),
        "chat_acked": len(acked), "chat_deliveries_expected": len(acked) * connected,
        "chat_deliveries_missing": missing(acked, "receipts"),
        "chat_repeats": sum(r["repeats"] for r in parts),
        "questions_acked": len(acked_q),
        "question_deliveries_missing": missing(acked_q, "question_receipts"),
        "votes_acked": sum(r["acked_votes"] for r in parts),
        "refused": refused, "disconnects": sum(r["disconnects"] for r in parts),
        "speakers_end": speakers_end,
        **merge([r for r in results if r.get("kind") != "participants"]),
        "servers_idle": idle, "servers_start": start, "servers_end": samples[-1],
        "servers_after": after, "samples": samples, "load_average": os.getloadavg(),
        "acked_chat": acked, "acked_questions": acked_q,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=700)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--viewer-workers", type=int, default=2)
    ap.add_argument("--sample-s", type=float, default=30)
    a = ap.parse_args()
    cfg = SoakConfig(a.participants, a.viewers, a.minutes * 60, a.workers,
                     viewer_workers=a.viewer_workers, sample_s=a.sample_s)
    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_soak(cfg, Path(tmp)))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
