"""Socket.IO `interpretation:me`: who the caller is for the language picker and the console.

The media events (`interpretation:listen`, `interpretation:handover`) are
signaling's (signaling/interpretation.py); this one needs the database.
"""

from __future__ import annotations

import socketio
from aiohttp import web

from server import interpretation
from server.keys import DB
from server.realtime.common import Ack, Payload, on
from server.roles import Principal


class MeIn(Payload):
    pass


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "interpretation:me", MeIn)
    async def me(sid: str, principal: Principal, p: MeIn) -> Ack:
        return await interpretation.who_listens(app[DB], principal)
