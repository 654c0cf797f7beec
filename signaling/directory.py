"""The stage directory: which node holds each stage, and which nodes are alive.

A stage's *holder* is the node its publishers reached: the origin of its
media. Every other node serving viewers of that stage pulls it from the
holder, and only from the holder, so a pull loop cannot form.

Two implementations behind one interface, chosen once at start-up: Redis
(several processes or machines) and memory (one process). Both pass the same
contract tests (tests/unit/test_directory_contract.py).

Claims and node records expire unless beaten: a node that dies stops beating,
and its stages are free to be claimed elsewhere within `ttl` seconds; a node
whose claim was taken over learns it at its next beat (`lost`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What a node says about itself at every beat (the dashboard shows it)."""

    id: str
    url: str  # internal address
    viewers: int = 0  # viewers it serves itself (pulls are not viewers)
    capacity: int = 0  # viewers it admits at most
    draining: bool = False
    held: tuple[str, ...] = ()  # stages it holds (origin)
    pulls: int = 0  # stages it pulls from other nodes (edge)
    served_pulls: int = 0  # pulls other nodes make from it
    load: float = 0.0  # share of one core used over the last beat
    audience: dict[str, int] = field(default_factory=dict)  # session -> its viewers
    at: float = 0.0  # wall-clock time of the beat

    @property
    def room(self) -> int:
        return 0 if self.draining else max(0, self.capacity - self.viewers)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(raw: str) -> NodeInfo:
        data: dict[str, Any] = json.loads(raw)
        data["held"] = tuple(data.get("held", ()))
        return NodeInfo(**data)


class StageDirectory(Protocol):
    async def claim(self, session: str, node: str, ttl: float) -> str:
        """Become the holder unless another node is; returns the holder."""

    async def takeover(self, session: str, node: str, dead: str, ttl: float) -> str:
        """Become the holder if the holder is `dead` (or nobody); returns the holder."""

    async def holders(self, sessions: Sequence[str]) -> dict[str, str | None]:
        """The holder of each session (None: nobody holds it)."""

    async def release(self, session: str, node: str) -> None:
        """Stop holding a session (only its holder can)."""

    async def beat(self, info: NodeInfo, ttl: float) -> set[str]:
        """Refresh this node's record and its claims on `info.held`.

        Returns the sessions of `info.held` that another node holds now. A
        claim that expired meanwhile (the store was unreachable) is renewed.
        """

    async def nodes(self) -> list[NodeInfo]:
        """Every node alive (beaten within its ttl), sorted by id."""

    async def leave(self, node: str) -> None:
        """Forget a node and release its claims (a clean shutdown)."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryDirectory:
    """One process: the same rules, in dicts, on the monotonic clock."""

    def __init__(self) -> None:
        self._holders: dict[str, tuple[str, float]] = {}
        self._nodes: dict[str, tuple[NodeInfo, float]] = {}

    def _holder(self, session: str) -> str | None:
        entry = self._holders.get(session)
        if entry is None or entry[1] <= time.monotonic():
            self._holders.pop(session, None)
            return None
        return entry[0]

    def _set(self, session: str, node: str, ttl: float) -> str:
        self._holders[session] = (node, time.monotonic() + ttl)
        return node

    async def claim(self, session: str, node: str, ttl: float) -> str:
        holder = self._holder(session)
        return self._set(session, node, ttl) if holder in (None, node) else str(holder)

    async def takeover(self, session: str, node: str, dead: str, ttl: float) -> str:
        holder = self._holder(session)
        return self._set(session, node, ttl) if holder in (None, node, dead) else str(holder)

    async def holders(self, sessions: Sequence[str]) -> dict[str, str | None]:
        return {s: self._holder(s) for s in sessions}

    async def release(self, session: str, node: str) -> None:
        if self._holder(session) == node:
            del self._holders[session]

    async def beat(self, info: NodeInfo, ttl: float) -> set[str]:
        lost = set()
        for session in info.held:
            holder = self._holder(session)
            if holder in (None, info.id):
                self._set(session, info.id, ttl)
            else:
                lost.add(session)
        self._nodes[info.id] = (info, time.monotonic() + ttl)
        return lost

    async def nodes(self) -> list[NodeInfo]:
        now = time.monotonic()
        self._nodes = {k: v for k, v in self._nodes.items() if v[1] > now}
        return [self._nodes[k][0] for k in sorted(self._nodes)]

    async def leave(self, node: str) -> None:
        self._nodes.pop(node, None)
        self._holders = {s: v for s, v in self._holders.items() if v[0] != node}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


# Redis layout, under the prefix:
#   holder:{session}  STRING node id, PX ttl
#   node:{id}         STRING NodeInfo JSON, PX ttl
#   nodes             ZSET node id -> expiry (ms, Redis clock), to list them
# Each operation is one script, atomic, on Redis's clock.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] or v == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return v
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
_BEAT = _NOW + """
local P, node, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local lost = {}
for i = 5, #ARGV do
  local k = P .. 'holder:' .. ARGV[i]
  local v = redis.call('GET', k)
  if (not v) or v == node then
    redis.call('SET', k, node, 'PX', ttl)
  else
    lost[#lost + 1] = ARGV[i]
  end
end
redis.call('SET', P .. 'node:' .. node, ARGV[4], 'PX', ttl)
redis.call('ZADD', P .. 'nodes', now + ttl, node)
redis.call('ZREMRANGEBYSCORE', P .. 'nodes', '-inf', now)
return lost
"""
_NODES = _NOW + """
local P = ARGV[1]
redis.call('ZREMRANGEBYSCORE', P .. 'nodes', '-inf', now)
local ids = redis.call('ZRANGE', P .. 'nodes', 0, -1)
local out = {}
for i = 1, #ids do
  local raw = redis.call('GET', P .. 'node:' .. ids[i])
  if raw then out[#out + 1] = raw end
end
return out
"""
_LEAVE = """
local P, node = ARGV[1], ARGV[2]
local raw = redis.call('GET', P .. 'node:' .. node)
redis.call('DEL', P .. 'node:' .. node)
redis.call('ZREM', P .. 'nodes', node)
return raw
"""


class RedisDirectory:
    def __init__(self, url: str, prefix: str = "halqa:dir:") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, decode_responses=True,
            # Bounded: with none, a command on a connection that never answers
            # waits for good, and so does what awaits it (a node's beat: its
            # claims would lapse and its stages move while it still runs).
            socket_timeout=5, socket_connect_timeout=2)
        self.prefix = prefix
        r = self.redis
        self._claim = r.register_script(_CLAIM)
        self._release = r.register_script(_RELEASE)
        self._beat = r.register_script(_BEAT)
        self._nodes = r.register_script(_NODES)
        self._leave = r.register_script(_LEAVE)

    def _key(self, session: str) -> str:
        return f"{self.prefix}holder:{session}"

    async def claim(self, session: str, node: str, ttl: float) -> str:
        return str(await self._claim(keys=[self._key(session)], args=[node, _ms(ttl), node]))

    async def takeover(self, session: str, node: str, dead: str, ttl: float) -> str:
        return str(await self._claim(keys=[self._key(session)], args=[node, _ms(ttl), dead]))

    async def holders(self, sessions: Sequence[str]) -> dict[str, str | None]:
        if not sessions:
            return {}
        values = await self.redis.mget([self._key(s) for s in sessions])
        return {s: (str(v) if v else None) for s, v in zip(sessions, values, strict=True)}

    async def release(self, session: str, node: str) -> None:
        await self._release(keys=[self._key(session)], args=[node])

    async def beat(self, info: NodeInfo, ttl: float) -> set[str]:
        args: list[Any] = [self.prefix, info.id, _ms(ttl), info.to_json(), *info.held]
        return {str(s) for s in await self._beat(args=args)}

    async def nodes(self) -> list[NodeInfo]:
        raws = await self._nodes(args=[self.prefix])
        return sorted((NodeInfo.from_json(r) for r in raws), key=lambda n: n.id)

    async def leave(self, node: str) -> None:
        raw = await self._leave(args=[self.prefix, node])
        if raw:
            for session in NodeInfo.from_json(raw).held:
                await self.release(session, node)

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


async def open_directory(redis_url: str | None) -> StageDirectory:
    if not redis_url:
        return MemoryDirectory()
    directory = RedisDirectory(redis_url)
    await directory.ping()
    return directory


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


__all__ = [
    "MemoryDirectory",
    "NodeInfo",
    "RedisDirectory",
    "StageDirectory",
    "open_directory",
]
