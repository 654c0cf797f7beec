"""One contract, two stage directories: in memory and a real private Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from signaling.directory import MemoryDirectory, NodeInfo, StageDirectory

TTL = 0.4


@pytest.fixture(params=["memory", "redis"])
async def directory(request: pytest.FixtureRequest) -> AsyncIterator[StageDirectory]:
    if request.param == "memory":
        yield MemoryDirectory()
        return
    from signaling.directory import RedisDirectory

    url = request.getfixturevalue("redis_url")
    d = RedisDirectory(url, prefix=f"t{secrets.token_hex(4)}:")
    await d.ping()
    yield d
    await d.close()


def node(name: str, *held: str, viewers: int = 0, capacity: int = 100) -> NodeInfo:
    return NodeInfo(name, f"http://{name}", viewers=viewers, capacity=capacity, held=held,
                    audience={"s1": viewers} if viewers else {})


async def test_one_holder_per_stage(directory: StageDirectory) -> None:
    assert await directory.claim("s1", "a", 5) == "a"
    assert await directory.claim("s1", "b", 5) == "a"  # b is refused: a holds it
    assert await directory.claim("s1", "a", 5) == "a"  # renewing one's own claim
    assert await directory.claim("s2", "b", 5) == "b"
    assert await directory.holders(["s1", "s2", "s3"]) == {"s1": "a", "s2": "b", "s3": None}
    await directory.release("s1", "b")  # not b's to release
    assert (await directory.holders(["s1"]))["s1"] == "a"
    await directory.release("s1", "a")
    assert await directory.claim("s1", "b", 5) == "b"


async def test_a_dead_holder_expires_and_is_taken_over(directory: StageDirectory) -> None:
    assert await directory.claim("s1", "a", TTL) == "a"
    # Takeover from a node that is not the holder is refused.
    assert await directory.takeover("s1", "b", "c", 5) == "a"
    # Takeover naming the dead holder works at once (its death was observed).
    assert await directory.takeover("s1", "b", "a", 5) == "b"
    assert await directory.claim("s2", "a", TTL) == "a"
    await asyncio.sleep(TTL + 0.2)  # a stops beating: its claim expires by itself
    assert (await directory.holders(["s2"]))["s2"] is None
    assert await directory.claim("s2", "b", 5) == "b"


async def test_beats_keep_claims_and_report_lost_ones(directory: StageDirectory) -> None:
    assert await directory.claim("s1", "a", TTL) == "a"
    for _ in range(3):
        await asyncio.sleep(TTL / 2)
        assert await directory.beat(node("a", "s1"), TTL) == set()
    assert (await directory.holders(["s1"]))["s1"] == "a"
    # b took s1 over (a was thought dead); a's next beat says it lost it.
    assert await directory.takeover("s1", "b", "a", 5) == "b"
    assert await directory.beat(node("a", "s1", "s3"), TTL) == {"s1"}
    # s3 was not claimed at all (e.g. the store was down): the beat claims it.
    assert (await directory.holders(["s3"]))["s3"] == "a"


async def test_nodes_are_listed_while_they_beat(directory: StageDirectory) -> None:
    await directory.beat(node("b", viewers=7), TTL)
    await directory.beat(node("a", "s1", viewers=3), 5)
    nodes = await directory.nodes()
    assert [n.id for n in nodes] == ["a", "b"]
    assert nodes[0].held == ("s1",) and nodes[0].audience == {"s1": 3}
    assert nodes[1].room == 93 and nodes[1].url == "http://b"
    await asyncio.sleep(TTL + 0.2)
    assert [n.id for n in await directory.nodes()] == ["a"]  # b died
    await directory.leave("a")
    assert await directory.nodes() == []
    assert (await directory.holders(["s1"]))["s1"] is None  # leaving releases


def test_draining_nodes_have_no_room() -> None:
    assert NodeInfo("a", "u", viewers=1, capacity=10, draining=True).room == 0
    info = NodeInfo("a", "u", viewers=1, capacity=10, held=("x",), audience={"x": 1})
    assert NodeInfo.from_json(info.to_json()) == info
