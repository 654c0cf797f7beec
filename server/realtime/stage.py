"""The Socket.IO server as signaling sees it (signaling.host.Sockets).

signaling registers its `stage:*` events through the same handler shape as
every other event (flood limit, strict payloads, error acks); its handlers get
signaling's `Caller`, built from the connection's Principal.
"""

from __future__ import annotations

from typing import Any, TypeVar

import socketio
from pydantic import BaseModel

from server.realtime.common import Ack, on, session_room
from server.roles import Principal
from server.stages import media_caller
from signaling.host import EventHandler

M = TypeVar("M", bound=BaseModel)


class StageSockets:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    def on(self, event: str, model: type[M], handler: EventHandler[M]) -> None:
        @on(self.sio, event, model)
        async def adapted(sid: str, principal: Principal, payload: M) -> Ack:
            return await handler(sid, media_caller(principal), payload)

    async def enter(self, sid: str, session_id: str) -> None:
        await self.sio.enter_room(sid, session_room(session_id))

    async def broadcast(self, event: str, data: dict[str, Any], session_id: str) -> None:
        await self.sio.emit(event, data, room=session_room(session_id))
