"""Room frames across processes: encoded once, one publish, written by every process.

`Roomcast.publish(rooms, packets, alt=, alt_room=)` sends Socket.IO packets
(already encoded, server/realtime/fanout.py `encode_event`) to every socket in
any of `rooms` on every process; members of `alt_room` get the single packet
`alt` instead (a richer or batched variant). One bus message per call, acted
on by every process in the bus's one order (server/realtime/bus.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import socketio
from aiohttp import web

from server.keys import SIO
from server.realtime.bus import BUS, Bus
from server.realtime.fanout import write_room


class Roomcast:
    def __init__(self, sio: socketio.AsyncServer, bus: Bus) -> None:
        self.sio, self.bus = sio, bus
        bus.on("room", self._deliver)

    async def publish(self, rooms: Sequence[str], packets: Sequence[str],
                      alt: str | None = None, alt_room: str | None = None) -> None:
        head = json.dumps({"rooms": list(rooms), "alt_room": alt_room if alt else None})
        # JSON never contains a raw newline, so lines delimit the packets.
        lines = [head, alt or "", *packets]
        await self.bus.publish("room", "\n".join(lines))

    async def _deliver(self, body: str) -> None:
        head, alt, *packets = body.split("\n")
        meta = json.loads(head)
        write_room(self.sio, meta["rooms"], packets, alt=alt or None, alt_room=meta["alt_room"])


ROOMCAST: web.AppKey[Roomcast] = web.AppKey("roomcast", Roomcast)


async def roomcast_ctx(app: web.Application) -> AsyncIterator[None]:
    app[ROOMCAST] = Roomcast(app[SIO], app[BUS])
    yield
