"""Socket.IO `stage:*` events: everyone follows the stage; moderators pick who is on air.

Media negotiation is not here: the watch page's 18-section offer (20-65 KB)
is larger than a Socket.IO message may be, so it goes to
`POST /whep/{session}?layout=stage` (signaling/whip.py). With fixed slots
nothing needs renegotiating later: speakers joining, leaving, sharing or
reloading only change which source feeds a slot, and `stage:update` tells
the page how to lay the slots out.

Client -> server, through the app's shared handler (`Sockets.on`, host.py):
  stage:state   {session}               -> {ok, stage, ice_servers}
  stage:program {session, publisher}    -> {ok, stage}   (moderators: who is on air;
                                                          the wire keeps its first name)
Server -> the session's followers:
  stage:update  <snapshot>  (see Stage.snapshot / docs/protocol.md, "Live stage")
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from signaling import interpretation
from signaling.errors import Forbidden
from signaling.host import Ack, Caller, Sockets
from signaling.registry import StageRegistry

SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StateIn(_Payload):
    session: SessionId


class OnAirIn(_Payload):
    session: SessionId
    publisher: str | None


def register(registry: StageRegistry, sio: Sockets) -> None:
    async def broadcast(snapshot: dict[str, Any]) -> None:
        await sio.broadcast("stage:update", snapshot, snapshot["session"])

    registry.listeners.append(broadcast)

    async def state(sid: str, caller: Caller, p: StateIn) -> Ack:
        # Any caller the host resolved may watch (registration is for the
        # event), unless the host refuses: an unknown session, or a ban (a
        # banned identity must not follow the room's broadcasts again).
        if registry.admit is not None:
            await registry.admit(caller, p.session, "watch")
        await sio.enter(sid, p.session)
        return {"stage": await registry.current(p.session),
                "ice_servers": registry.media.ice_servers_json()}

    async def put_on_air(sid: str, caller: Caller, p: OnAirIn) -> Ack:
        if not caller.can_moderate(p.session):
            raise Forbidden("forbidden", "only a moderator of this session chooses who is on air")
        return {"stage": await registry.choose_on_air(p.session, p.publisher)}

    sio.on("stage:state", StateIn, state)
    sio.on("stage:program", OnAirIn, put_on_air)
    interpretation.register(registry, sio)  # interpretation:* (signaling/interpretation.py)
