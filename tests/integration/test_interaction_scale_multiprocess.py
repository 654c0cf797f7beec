"""Two real `halqa serve` processes on one private Redis and a throw-away
PostgreSQL: a poll opened on one and voted on both has exact, equal results
everywhere; one identity voting from two tabs on two processes at once counts
once; reactions from both add up exactly; chat sent on both processes reaches
everyone in one order."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

import aiohttp

from tests.interaction_helpers import Client, clients, eventually
from tests.support import Halqa, ServerProcess


async def test_poll_reactions_and_chat_order_across_processes(
    tmp_path: Path, redis_url: str, pg_url: str
) -> None:
    org = secrets.token_urlsafe(24)
    env = {"HALQA_REDIS_URL": redis_url, "HALQA_DATABASE_URL": pg_url,
           "HALQA_ORGANIZER_TOKEN": org, "HALQA_INTERACTION__CHAT_RATE": "1000"}
    a = await ServerProcess(tmp_path / "a", env).start()
    b = await ServerProcess(tmp_path / "b", env).start()
    try:
        async with aiohttp.ClientSession() as http:
            ha = Halqa(a.url, org, http)
            s1 = (await ha.session_ids())[2]
            mod = await ha.invite("moderator", s1)
            people = [await ha.register(f"V{i}") for i in range(6)]
            twin = await ha.register("Twin")
            pairs = [(a.url, mod)] + [((a.url, b.url)[i % 2], t) for i, t in enumerate(people)]
            pairs += [(a.url, twin), (b.url, twin)]
            async with clients(*pairs) as (m, *rest):
                voters, (twin_a, twin_b) = rest[:-2], rest[-2:]
                everyone = [m, *voters, twin_a, twin_b]
                for c in everyone:
                    await c.join(s1)

                # A poll opened on A, voted on A and B.
                created = await m.call("poll:create", {
                    "session": s1, "question": "Best format?",
                    "options": ["talk", "panel", "workshop"], "multiple": True})
                poll = created["poll"]["id"]
                assert (await m.call("poll:open", {"poll": poll}))["ok"]
                await eventually(lambda: all(
                    any(d["id"] == poll and d["state"] == "open" for d in c.events["poll:update"])
                    for c in voters))
                choices = [[0], [1], [0, 2], [2], [0, 1], [0]]
                acks = await asyncio.gather(*(c.call("poll:vote", {"poll": poll, "choices": ch})
                                              for c, ch in zip(voters, choices, strict=True)))
                assert all(x["ok"] for x in acks), acks
                # The same identity from two tabs on two processes, at once.
                twins = await asyncio.gather(
                    twin_a.call("poll:vote", {"poll": poll, "choices": [1]}),
                    twin_b.call("poll:vote", {"poll": poll, "choices": [1]}))
                assert all(x["ok"] for x in twins), twins
                expected = {"voters": 7, "counts": [4, 3, 2]}
                assert (await m.call("poll:reveal", {"poll": poll}))["ok"]
                assert (await m.call("poll:close", {"poll": poll}))["ok"]

                def final(c: Client) -> object:
                    shown = [d for d in c.events["poll:update"]
                             if d["id"] == poll and d["state"] == "closed"]
                    return shown[-1].get("results") if shown else None

                await eventually(lambda: all(final(c) == expected for c in everyone))
                for url in (a.url, b.url):
                    async with clients((url, people[0])) as (fresh,):
                        await fresh.join(s1)
                        listed = await fresh.call("poll:list", {"session": s1})
                        assert listed["polls"][0]["results"] == expected

                # Reactions on both processes: exact totals at observers on both.
                sent: Counter[str] = Counter()
                for c in voters:
                    for name in ("clap", "heart", "clap"):
                        assert (await c.call("reaction:send",
                                             {"session": s1, "reaction": name}))["ok"]
                        sent[name] += 1

                def heard(c: Client) -> Counter[str]:
                    total: Counter[str] = Counter()
                    for f in c.events["reaction:counts"]:
                        total.update(f["counts"])
                    return total

                await eventually(lambda: heard(twin_a) == sent and heard(twin_b) == sent)

                # Chat sent on both processes at once: one order for every receiver.
                async def say(c: Client, tag: str) -> None:
                    for i in range(15):
                        assert (await c.call("chat:send", {"session": s1,
                                                           "text": f"{tag}{i}"}))["ok"]

                await asyncio.gather(say(voters[0], "a"), say(voters[1], "b"))

                def order(c: Client) -> list[int]:
                    return [m["id"] for m in c.events["chat:message"]]

                await eventually(lambda: all(len(order(c)) == 30 for c in everyone))
                assert all(order(c) == order(m) for c in everyone)
    finally:
        a.stop()
        b.stop()
