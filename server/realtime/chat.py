"""chat:send and chat:delete."""

from __future__ import annotations

import socketio
from aiohttp import web

from server import chat
from server.interaction import Refused
from server.keys import DB, SETTINGS, SHARED
from server.realtime.chat_fanout import CHAT_WRITER
from server.realtime.common import (
    PRESENCE,
    Ack,
    Payload,
    RowId,
    SessionId,
    Text,
    on,
    session_room,
)
from server.roles import Principal


class SendIn(Payload):
    session: SessionId
    text: Text


class DeleteIn(Payload):
    message: RowId


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "chat:send", SendIn)
    async def send(sid: str, principal: Principal, p: SendIn) -> Ack:
        if not app[PRESENCE].joined(sid, p.session):
            raise Refused("not_joined")
        # Stored (group commit), published to the room, then acknowledged:
        # an acknowledged message is never lost (server/chat_writer.py).
        message = await chat.send(app[DB], app[CHAT_WRITER], app[SHARED],
                                  app[SETTINGS].interaction, principal, p.session, p.text)
        return {"message": message}

    @on(sio, "chat:delete", DeleteIn)
    async def delete(sid: str, principal: Principal, p: DeleteIn) -> Ack:
        gone = await chat.delete(app[DB], principal, p.message)
        await sio.emit("chat:delete", gone, room=session_room(gone["session"]))
        return gone
