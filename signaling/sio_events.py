"""Socket.IO `stage:*` events: everyone follows the stage; moderators pick the program.

Media negotiation is not here: the watch page's 18-section offer (20-65 KB)
is larger than a Socket.IO message may be, so it goes to
`POST /whep/{session}?layout=stage` (signaling/whip.py). With fixed slots
nothing needs renegotiating later: speakers joining, leaving, sharing or
reloading only change which source feeds a slot, and `stage:update` tells
the page how to lay the slots out.

Client -> server, through the shared handler (server/realtime/common.py):
  stage:state   {session}               -> {ok, stage, ice_servers}
  stage:program {session, publisher}    -> {ok, stage}   (moderators)
Server -> the session's room:
  stage:update  <snapshot>  (see Stage.snapshot / docs/protocol.md, "Live stage")
"""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp import web

from server.interaction import Refused
from server.realtime.common import Ack, Payload, SessionId, on, session_room
from server.roles import Principal
from signaling.keys import REGISTRY


class StateIn(Payload):
    session: SessionId


class ProgramIn(Payload):
    session: SessionId
    publisher: str | None


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    registry = app[REGISTRY]

    async def broadcast(snapshot: dict[str, Any]) -> None:
        await sio.emit("stage:update", snapshot, room=session_room(snapshot["session"]))

    registry.listeners.append(broadcast)

    @on(sio, "stage:state", StateIn)
    async def state(sid: str, principal: Principal, p: StateIn) -> Ack:
        if not principal.can_watch(p.session):
            raise Refused("forbidden", message="this token may not watch this session")
        await sio.enter_room(sid, session_room(p.session))
        return {"stage": registry.snapshot(p.session),
                "ice_servers": registry.media.ice_servers_json()}

    @on(sio, "stage:program", ProgramIn)
    async def program(sid: str, principal: Principal, p: ProgramIn) -> Ack:
        if not principal.can_moderate(p.session):
            raise Refused("forbidden",
                          message="only a moderator of this session chooses who is on air")
        return {"stage": registry.set_program(p.session, p.publisher).snapshot()}
