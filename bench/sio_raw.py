"""A minimal Socket.IO (EIO 4, websocket) client on aiohttp, for benchmarks.

python-socketio's client costs a task set and an HTTP session per connection;
hundreds of them on two shared cores would measure the client, not the
server. This speaks the wire format directly: `0{open}`, `40{auth}`,
`42[event, data]`, acks `42<id>[...]` / `43<id>[...]`, ping `2` → pong `3`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp


class RawClient:
    def __init__(self, http: aiohttp.ClientSession, url: str, token: str,
                 on_event: Callable[[str, Any, float], None] | None = None,
                 deflate: bool = True, auth: dict[str, Any] | None = None) -> None:
        self.http, self.url, self.token = http, url, token
        # Extra connect-auth fields, e.g. {"features": ["chat:batch"]}.
        self.auth = auth or {}
        # Browsers negotiate permessage-deflate; so does this client unless told not to.
        self.deflate = deflate
        self.on_event = on_event or (lambda *_: None)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.closing = False
        self.dropped = False  # the server (or the network) closed it, not us

    async def connect(self) -> RawClient:
        ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await self.http.ws_connect(ws_url, heartbeat=None, max_msg_size=0,
                                            compress=15 if self.deflate else 0)
        opened = await self.ws.receive_str()
        assert opened.startswith("0"), opened
        await self.ws.send_str("40" + json.dumps({"token": self.token, **self.auth}))
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), 30)
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            now = time.time()
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith("40"):
                self.connected.set()
            elif data.startswith("44"):
                raise RuntimeError(f"refused: {data}")
            elif data.startswith("42"):
                event, payload = json.loads(data[2:])
                self.on_event(event, payload, now)
            elif data.startswith("43"):
                body = data[2:]
                i = body.index("[")
                fut = self._acks.pop(int(body[:i]), None)
                if fut and not fut.done():
                    fut.set_result(json.loads(body[i:])[0])
        self.dropped = not self.closing

    async def call(self, event: str, payload: Any, timeout: float = 30) -> Any:
        assert self.ws is not None
        ack_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        await self.ws.send_str(f"42{ack_id}" + json.dumps([event, payload]))
        return await asyncio.wait_for(fut, timeout)

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


async def register_many(http: aiohttp.ClientSession, url: str, n: int,
                        prefix: str = "bench") -> list[str]:
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with sem, http.post(f"{url}/api/registrations", json={
            "name": f"{prefix} {i}", "email": f"{prefix}{i}-{time.time_ns()}@example.org",
            "country": "MA", "language": "fr", "consent": True}) as r:
            body = await r.json()
            assert r.status == 201, body
            return str(body["token"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]
