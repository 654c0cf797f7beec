"""Reactions: 200 people reacting within a second arrive as a handful of
aggregated frames with exact totals; bad input and floods are refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from bench.sio_raw import RawClient
from server.reaction import REACTIONS
from tests.interaction_helpers import clients, eventually
from tests.support import app_server

NAMES = list(REACTIONS)


async def test_two_hundred_reactors_in_a_second(tmp_path: Path) -> None:
    async with app_server(tmp_path, interaction={"reaction_rate": 10,
                                                 "reaction_rate_window": 60}) as app:
        s1 = (await app.session_ids())[0]
        tokens = list(await asyncio.gather(*(app.register(f"R{i}") for i in range(201))))
        async with clients((app.url, tokens[0])) as (observer,), \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await observer.join(s1)
            reactors = [RawClient(http, app.url, t) for t in tokens[1:]]
            try:
                for i in range(0, len(reactors), 50):
                    await asyncio.gather(*(r.connect() for r in reactors[i:i + 50]))
                    acks = await asyncio.gather(*(r.call("session:join", {"session": s1})
                                                  for r in reactors[i:i + 50]))
                    assert all(a["ok"] for a in acks)
                sent: Counter[str] = Counter()

                async def react(i: int, r: RawClient) -> None:
                    await asyncio.sleep(i / len(reactors))  # spread over one second
                    name = NAMES[i % len(NAMES)]
                    ack = await r.call("reaction:send", {"session": s1, "reaction": name})
                    assert ack == {"ok": True}, ack
                    sent[name] += 1

                await asyncio.gather(*(react(i, r) for i, r in enumerate(reactors)))
                assert sum(sent.values()) == 200

                def seen() -> Counter[str]:
                    total: Counter[str] = Counter()
                    for frame in observer.events["reaction:counts"]:
                        assert frame["session"] == s1
                        total.update(frame["counts"])
                    return total

                await eventually(lambda: seen() == sent, timeout=10)
                frames = len(observer.events["reaction:counts"])
                # One frame per 0.25 s tick for a second's reactions (plus edges),
                # never one per reaction.
                assert 2 <= frames <= 8, frames
                await asyncio.sleep(0.6)
                assert seen() == sent  # nothing counted twice afterwards
            finally:
                await asyncio.gather(*(r.close() for r in reactors))

        # Only the totals are kept, for the organizer's report.
        async with app.http.get(f"{app.url}/api/report", headers=app.auth()) as r:
            row = next(x for x in (await r.json())["sessions"] if x["id"] == s1)
        assert row["reactions"] == {n: sent[n] for n in NAMES}


async def test_reaction_bad_input_and_flood(tmp_path: Path) -> None:
    async with app_server(tmp_path, interaction={"reaction_rate": 5,
                                                 "reaction_rate_window": 60}) as app:
        s1 = (await app.session_ids())[0]
        a_token, b_token = await app.register("A"), await app.register("B")
        async with clients((app.url, a_token), (app.url, b_token)) as (a, b):
            ack = await a.call("reaction:send", {"session": s1, "reaction": "clap"})
            assert ack["error"] == "not_joined", ack
            await a.join(s1)
            await b.join(s1)
            for payload, code in [
                ({"session": s1, "reaction": "💩"}, "unknown_reaction"),
                ({"session": s1, "reaction": "CLAP"}, "unknown_reaction"),
                ({"session": s1, "reaction": "x" * 40}, "invalid"),
                ({"session": s1, "reaction": 1}, "invalid"),
                ({"session": s1}, "invalid"),
            ]:
                ack = await a.call("reaction:send", payload)
                assert ack["ok"] is False and ack["error"] == code, (payload, ack)
            acks = [await a.call("reaction:send", {"session": s1, "reaction": "heart"})
                    for _ in range(8)]
            assert [x["ok"] for x in acks] == [True] * 5 + [False] * 3
            assert {x.get("error") for x in acks[5:]} == {"rate_limited"}
            # Someone else is not held back by A's flood.
            assert (await b.call("reaction:send", {"session": s1, "reaction": "party"}))["ok"]

            def total() -> Counter[str]:
                c: Counter[str] = Counter()
                for frame in b.events["reaction:counts"]:
                    c.update(frame["counts"])
                return c

            await eventually(lambda: total() == Counter({"heart": 5, "party": 1}))
