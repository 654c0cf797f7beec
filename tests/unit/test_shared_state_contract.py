"""One contract, two SharedState implementations: in-memory and a real private Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from server.shared import Counts, Member, MemorySharedState, Presence, SharedState


@pytest.fixture(params=["memory", "redis"])
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        yield MemorySharedState()
        return
    from server.shared.redis import RedisSharedState

    url = request.getfixturevalue("redis_url")
    # A fresh prefix per test: one private redis-server serves the whole run.
    state = RedisSharedState(url, prefix=f"t{secrets.token_hex(4)}:")
    await state.ping()
    yield state
    await state.close()


def P(session: str, key: str, conn: str, name: str = "") -> Presence:
    return Presence(session, key, conn, name or key.upper())


async def test_rate_limit_window(shared: SharedState) -> None:
    key = secrets.token_hex(4)
    assert [await shared.hit(key, 3, 60) for _ in range(5)] == [True, True, True, False, False]
    assert await shared.hit(key + "other", 3, 60)


async def test_tabs_count_once_and_leave_with_the_last(shared: SharedState) -> None:
    assert await shared.presence_join(P("s1", "p1", "a"), 30) == Counts(1, 1)
    assert await shared.presence_join(P("s1", "p1", "b"), 30) == Counts(1, 1)
    assert await shared.presence_join(P("s1", "p2", "c"), 30) == Counts(2, 2)
    assert await shared.presence_leave("s1", "p1", "a") == Counts(2, 2)
    assert await shared.presence_conns("s1", "p1") == ["b"]
    assert await shared.presence_leave("s1", "p1", "b") == Counts(1, 2)
    assert await shared.presence_conns("s1", "p1") == []
    # Leaving twice, or a connection never seen, changes nothing.
    assert await shared.presence_leave("s1", "p1", "b") == Counts(1, 2)
    assert await shared.presence_leave("s1", "p9", "z") == Counts(1, 2)


async def test_sessions_are_separate(shared: SharedState) -> None:
    await shared.presence_join(P("s1", "p1", "a"), 30)
    await shared.presence_join(P("s2", "p1", "b"), 30)
    await shared.presence_join(P("s2", "p2", "c"), 30)
    assert await shared.presence_counts(["s1", "s2", "s3"]) == {
        "s1": Counts(1, 1), "s2": Counts(2, 2), "s3": Counts(0, 0)}
    assert await shared.presence_online("s2") == [Member("p1", "P1"), Member("p2", "P2")]


async def test_unrefreshed_entries_expire_and_peak_stays(shared: SharedState) -> None:
    await shared.presence_join(P("s1", "p1", "a"), 0.4)
    await shared.presence_join(P("s1", "p2", "b"), 30)
    await asyncio.sleep(0.6)
    assert await shared.presence_counts(["s1"]) == {"s1": Counts(1, 2)}
    assert await shared.presence_online("s1") == [Member("p2", "P2")]
    assert await shared.presence_conns("s1", "p1") == []


async def test_refresh_keeps_entries_alive(shared: SharedState) -> None:
    await shared.presence_join(P("s1", "p1", "a"), 0.5)
    await shared.presence_join(P("s1", "p2", "b"), 0.5)
    for _ in range(3):
        await asyncio.sleep(0.3)
        await shared.presence_refresh([P("s1", "p1", "a")], 0.5)
    assert await shared.presence_counts(["s1"]) == {"s1": Counts(1, 2)}
    # Refresh re-creates an entry that had already expired (a late heartbeat).
    await shared.presence_refresh([P("s1", "p2", "b", "Back")], 30)
    assert (await shared.presence_counts(["s1"]))["s1"].count == 2
    assert Member("p2", "Back") in await shared.presence_online("s1")


async def test_one_tab_expiring_keeps_the_identity(shared: SharedState) -> None:
    await shared.presence_join(P("s1", "p1", "short"), 0.3)
    await shared.presence_join(P("s1", "p1", "long"), 30)
    await asyncio.sleep(0.5)
    assert await shared.presence_conns("s1", "p1") == ["long"]
    assert (await shared.presence_counts(["s1"]))["s1"].count == 1
    assert await shared.presence_leave("s1", "p1", "long") == Counts(0, 1)


async def test_many_members_refresh_in_one_call(shared: SharedState) -> None:
    entries = [P("big", f"p{i}", f"c{i}") for i in range(1500)]
    for p in entries[:10]:
        await shared.presence_join(p, 30)
    await shared.presence_refresh(entries, 30)
    assert await shared.presence_counts(["big"]) == {"big": Counts(1500, 1500)}
    assert len(await shared.presence_online("big")) == 1500


async def test_live_stages_across_nodes_expire_by_themselves(shared: SharedState) -> None:
    await shared.stages_set("node-a", {"s1", "s2"}, ttl=30)
    await shared.stages_set("node-b", {"s3"}, ttl=0.3)
    assert await shared.stages_live() == {"s1", "s2", "s3"}
    # A node's new word replaces its old one, and leaves the others alone.
    await shared.stages_set("node-a", {"s2"}, ttl=30)
    assert await shared.stages_live() == {"s2", "s3"}
    # node-b crashed: it never speaks again, and its stage stops being shared.
    await asyncio.sleep(0.5)
    assert await shared.stages_live() == {"s2"}
    await shared.stages_set("node-a", set(), ttl=30)
    assert await shared.stages_live() == set()



async def test_generation_is_stable_while_the_store_lives(shared: SharedState) -> None:
    assert await shared.generation() == await shared.generation()
async def test_visitors_one_salt_per_day_and_distinct_hashes(shared: SharedState) -> None:
    day = f"2026-12-{secrets.randbelow(28) + 1:02d}-{secrets.token_hex(2)}"
    salt = await shared.visitor_salt(day, 60)
    assert len(salt) >= 16 and await shared.visitor_salt(day, 60) == salt
    assert await shared.visitor_salt(day + "x", 60) != salt
    for digest in ("a1", "b2", "a1"):
        await shared.visitor_add(day, digest, 60)
    assert await shared.visitor_count(day) == 2
    assert await shared.visitor_count(day + "x") == 0


async def test_a_days_salt_and_hashes_are_forgotten_after_their_ttl(shared: SharedState) -> None:
    day = f"d{secrets.token_hex(4)}"
    salt = await shared.visitor_salt(day, 0.2)
    await shared.visitor_add(day, "h", 0.2)
    await asyncio.sleep(0.35)
    assert await shared.visitor_count(day) == 0
    assert await shared.visitor_salt(day, 60) != salt
