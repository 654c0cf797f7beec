"""session:join and session:leave (presence, attendance, history on join)."""

from __future__ import annotations

import socketio
from aiohttp import web

from server import presence
from server.keys import DB, SETTINGS
from server.poll import can_run as can_run_polls
from server.realtime.common import (
    PRESENCE,
    Ack,
    Payload,
    SessionId,
    mod_room,
    on,
    polls_room,
    session_room,
)
from server.roles import Principal


class SessionIn(Payload):
    session: SessionId


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "session:join", SessionIn)
    async def join(sid: str, principal: Principal, p: SessionIn) -> Ack:
        # In the room before the history is read: a message stored in between
        # is in both (clients drop ids already shown), never in neither.
        await sio.enter_room(sid, session_room(p.session))
        try:
            snapshot = await presence.join_session(
                app[PRESENCE], app[DB], app[SETTINGS].interaction, principal, sid, p.session)
        except Exception:
            if not app[PRESENCE].joined(sid, p.session):
                await sio.leave_room(sid, session_room(p.session))
            raise
        if snapshot["moderator"]:
            await sio.enter_room(sid, mod_room(p.session))
        if can_run_polls(principal, p.session):
            await sio.enter_room(sid, polls_room(p.session))
        return snapshot

    @on(sio, "session:leave", SessionIn)
    async def leave(sid: str, principal: Principal, p: SessionIn) -> Ack:
        await sio.leave_room(sid, session_room(p.session))
        await sio.leave_room(sid, mod_room(p.session))
        await sio.leave_room(sid, polls_room(p.session))
        await app[PRESENCE].leave(sid, p.session)
        return {}
