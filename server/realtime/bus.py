"""The interaction bus: one publish per batch, heard by every process, in one order.

Chat batches and reaction counts go through here instead of python-socketio's
Redis manager, for two reasons:
- order: the manager delivers to the sender's own process first and to the
  others through Redis, so two processes sending into one room at once show
  their messages in different orders. Here every process, the publisher
  included, acts on a message when Redis hands it back, so all of them see
  one sequence (Redis delivers a channel's messages in publish order);
- cost: the payload is published as the Socket.IO packets already encoded,
  so no process re-encodes JSON per batch.

Without Redis (one process) a publish is handled at once, in place.
A Redis outage loses what is published meanwhile (as with Socket.IO's own
manager); the subscriber reconnects on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from redis.asyncio import Redis

from server.keys import SETTINGS

log = structlog.get_logger("halqa.bus")
CHANNEL = "halqa-bus"
Handler = Callable[[str], Awaitable[None]]


class Bus:
    def __init__(self, redis_url: str | None, channel: str = CHANNEL) -> None:
        self.redis_url, self.channel = redis_url, channel
        self._handlers: dict[str, Handler] = {}
        self._redis: Redis | None = None
        self._ready = asyncio.Event()

    def on(self, kind: str, handler: Handler) -> None:
        if "\n" in kind:
            raise ValueError("a kind is one line")
        self._handlers[kind] = handler

    async def publish(self, kind: str, body: str) -> None:
        if self._redis is None:
            await self._handle(kind, body)
        else:
            await self._redis.publish(self.channel, f"{kind}\n{body}")

    async def _handle(self, kind: str, body: str) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            log.warning("bus_unknown_kind", kind=kind)
            return
        try:
            await handler(body)
        except Exception:
            log.exception("bus_handler_failed", kind=kind)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Bus]:
        if not self.redis_url:
            yield self
            return
        self._redis = Redis.from_url(self.redis_url)
        task = asyncio.create_task(self._listen(), name="bus-listener")
        try:
            # Publishing before we listen would lose our own first messages.
            await asyncio.wait_for(self._ready.wait(), 10)
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._redis.aclose()

    async def _listen(self) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as ps:
                    await ps.subscribe(self.channel)
                    self._ready.set()
                    async for msg in ps.listen():
                        if msg.get("type") != "message":
                            continue
                        data = msg["data"]
                        text = data.decode() if isinstance(data, bytes) else str(data)
                        kind, _, body = text.partition("\n")
                        await self._handle(kind, body)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus_listen_failed")
                await asyncio.sleep(1.0)


BUS: web.AppKey[Bus] = web.AppKey("bus", Bus)


async def bus_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the bus lives as long as the app; register it before its users."""
    async with Bus(app[SETTINGS].redis_url).running() as bus:
        app[BUS] = bus
        yield
