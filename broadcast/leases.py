"""Exactly one process runs a session's broadcast: a lease in the shared store.

A process takes `broadcast:<session>` before it starts a mixer, renews it while
the mixer runs and gives it back when it stops. A second process asking for
the same session is told who holds it. A holder that dies stops renewing and
its lease expires by itself after `ttl` seconds (taking over is not automatic
yet: the next start or go-live elsewhere succeeds then).
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as aioredis


class Leases(Protocol):
    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew `name` for `owner`; False if someone else holds it."""

    async def release(self, name: str, owner: str) -> None:
        """Give `name` back if `owner` still holds it."""

    async def holder(self, name: str) -> str | None: ...

    async def close(self) -> None: ...


class MemoryLeases:
    """One process (the embedded default): a dict with deadlines."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        held = self._held.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._held[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str) -> None:
        held = self._held.get(name)
        if held is not None and held[0] == owner:
            del self._held[name]

    async def holder(self, name: str) -> str | None:
        held = self._held.get(name)
        return held[0] if held is not None and held[1] > time.monotonic() else None

    async def close(self) -> None:
        self._held.clear()


# Take-or-renew and release must check the owner atomically: Lua runs whole.
_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases:
    def __init__(self, url: str, prefix: str = "halqa:lease:") -> None:
        self.redis = aioredis.from_url(url, decode_responses=True,
            # Bounded: with none, a command on a connection that never answers
            # waits for good, and so does what awaits it (a node's beat: its
            # claims would lapse and its stages move while it still runs).
            socket_timeout=5, socket_connect_timeout=2)
        self.prefix = prefix

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        got = await self.redis.eval(_ACQUIRE, 1, self.prefix + name, owner, int(ttl * 1000))
        return bool(got)

    async def release(self, name: str, owner: str) -> None:
        await self.redis.eval(_RELEASE, 1, self.prefix + name, owner)

    async def holder(self, name: str) -> str | None:
        value = await self.redis.get(self.prefix + name)
        return str(value) if value is not None else None

    async def close(self) -> None:
        await self.redis.aclose()


def open_leases(redis_url: str | None) -> Leases:
    return RedisLeases(redis_url) if redis_url else MemoryLeases()
