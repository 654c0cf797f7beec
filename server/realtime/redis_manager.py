"""python-socketio's Redis manager, reconnecting every second.

Its listener backs off 1, 2, 4 … 60 s after losing Redis, so after a Redis
restart other processes' broadcasts (chat, questions) could stay missing for
up to a minute. Ours retries every second. The loop is python-socketio
5.x's `_redis_listen_with_retries` with the backoff capped; covered by
tests/integration/test_faults.py (Redis restarted mid-session).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import socketio

RETRY_S = 1.0


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:
                self._get_logger().warning(
                    "Cannot receive from redis... retrying in %s secs (%r)", RETRY_S, exc)
                subscribed = False
                await asyncio.sleep(RETRY_S)
