"""reaction:send, and reaction:counts once per tick per session.

Path of a reaction: `reaction:send` → checked, counted in this process
(server/reaction.py) → every `reaction_tick` this process publishes its
counts once on the bus and adds them to the totals → every process merges
what it hears per session and sends `reaction:counts` to its own sockets of
the session at most once per tick (a Coalescer), so a client gets one frame
per tick however many people and processes reacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

import socketio
import structlog
from aiohttp import web
from pydantic import Field

from server import reaction
from server.coalesce import Coalescer
from server.interaction import Refused
from server.keys import DB, SETTINGS, SHARED, SIO
from server.realtime.bus import BUS, Bus
from server.realtime.common import PRESENCE, Ack, Payload, SessionId, on, session_room
from server.realtime.fanout import encode_event, write_room
from server.roles import Principal

log = structlog.get_logger("halqa.reaction")


class SendIn(Payload):
    session: SessionId
    reaction: Annotated[str, Field(max_length=32)]


class ReactionCast:
    def __init__(self, app: web.Application, bus: Bus) -> None:
        self.app, self.bus = app, bus
        self.tick = app[SETTINGS].interaction.reaction_tick
        self.counter = reaction.ReactionCounter()
        self.out: Coalescer[str, dict[str, int]] = Coalescer(self.tick, self._send)
        bus.on("reaction", self._heard)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            await self.flush()

    async def flush(self) -> None:
        counts = self.counter.take()
        if not counts:
            return
        try:
            await self.bus.publish("reaction", json.dumps(counts))
            await reaction.add_totals(self.app[DB], counts)
        except Exception:  # a Redis or database hiccup must not end the ticker
            log.exception("reaction_tick_failed")

    async def _heard(self, body: str) -> None:
        for session_id, counts in json.loads(body).items():
            self.out.add(session_id, counts)

    async def _send(self, session_id: str, parts: list[dict[str, int]]) -> None:
        payload = {"session": session_id, "counts": reaction.merge(parts)}
        write_room(self.app[SIO], session_room(session_id),
                   [encode_event(self.app[SIO], "reaction:counts", payload)])


REACTIONCAST: web.AppKey[ReactionCast] = web.AppKey("reactioncast", ReactionCast)


async def reactioncast_ctx(app: web.Application) -> AsyncIterator[None]:
    cast = ReactionCast(app, app[BUS])
    app[REACTIONCAST] = cast
    cast.out.start()
    task = asyncio.create_task(cast.run(), name="reaction-ticker")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await cast.flush()  # what was counted still reaches the totals
    await cast.out.close()


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "reaction:send", SendIn)
    async def send(sid: str, principal: Principal, p: SendIn) -> Ack:
        if not app[PRESENCE].joined(sid, p.session):
            raise Refused("not_joined")
        await reaction.check(app[DB], app[SHARED], app[SETTINGS].interaction, principal,
                             p.session, p.reaction)
        app[REACTIONCAST].counter.add(p.session, p.reaction)
        return {}
