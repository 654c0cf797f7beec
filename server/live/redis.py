"""Redis LiveState: keys with TTLs, so a crashed node's entries expire on their own."""

from __future__ import annotations

import time

from redis.asyncio import Redis


class RedisLiveState:
    def __init__(self, url: str, prefix: str = "halqa:") -> None:
        self.redis: Redis = Redis.from_url(url, decode_responses=True)
        self.prefix = prefix

    async def hit(self, key: str, limit: int, window: float) -> bool:
        # Fixed window keyed by its start: one INCR and one EXPIRE, pipelined.
        slot = int(time.time() // window)
        k = f"{self.prefix}rl:{key}:{slot}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(k)
            pipe.expire(k, int(window) + 1)
            count, _ = await pipe.execute()
        return int(count) <= limit

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()
