"""Python-side Socket.IO clients for the interaction tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio

EVENTS = ("chat:message", "chat:batch", "chat:delete", "question:update", "question:voted",
          "presence:count", "session:settings", "moderation:sanction", "poll:update",
          "poll:results", "poll:voted", "reaction:counts")


class Client:
    """One socket.io connection that records every server → client event."""

    def __init__(self, url: str, token: str, features: list[str] | None = None) -> None:
        self.url, self.token = url, token
        # Capabilities announced at connect (e.g. ["chat:batch"]).
        self.features = features
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.times: dict[str, list[float]] = defaultdict(list)  # monotonic arrival times
        self._changed = asyncio.Event()
        for name in EVENTS:
            self.sio.on(name, self._recorder(name))
        self.sio.on("disconnect", self._recorder("disconnect"))
        self.sio.on("connect_error", self._recorder("connect_error"))

    def _recorder(self, name: str) -> Callable[..., Any]:
        async def record(data: Any = None, *_: Any) -> None:
            self.events[name].append(data)
            self.times[name].append(time.monotonic())
            self._changed.set()

        return record

    async def connect(self) -> Client:
        auth: dict[str, Any] = {"token": self.token}
        if self.features is not None:
            auth["features"] = self.features
        await self.sio.connect(self.url, auth=auth,
                               transports=["websocket"], wait_timeout=10)
        return self

    async def call(self, event: str, payload: Any = None, timeout: float = 10) -> Any:
        return await self.sio.call(event, payload, timeout=timeout)

    async def join(self, session: str) -> dict[str, Any]:
        ack: dict[str, Any] = await self.call("session:join", {"session": session})
        assert ack["ok"], ack
        return ack

    async def wait_for(self, name: str, pred: Callable[[Any], bool] = lambda _: True,
                       timeout: float = 10) -> Any:
        """The first recorded `name` event matching `pred` (waits for it)."""
        async def look() -> Any:
            while True:
                for data in self.events[name]:
                    if pred(data):
                        return data
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(look(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def clients(*pairs: tuple[str, str]) -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    try:
        for url, token in pairs:
            made.append(await Client(url, token).connect())
        yield made
    finally:
        for c in made:
            await c.close()


async def eventually(check: Callable[[], Any], timeout: float = 10, every: float = 0.1) -> Any:
    """Poll an async or sync check until it returns truthy; the last value otherwise fails."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(every)
