"""Socket.IO `stage:*` events: everyone follows the stage; moderators pick the program.

Media negotiation is not here: the watch page's 18-section offer (20-30 KB)
is larger than a Socket.IO message may be, so it goes to
`POST /whep/{session}?layout=stage` (signaling/whip.py). With fixed slots
nothing needs renegotiating later: speakers joining, leaving, sharing or
reloading only change which source feeds a slot, and `stage:update` tells
the page how to lay the slots out.

Client -> server (all answer through the ack):
  stage:state   {session}               -> {ok, stage}
  stage:program {session, publisher}    -> {ok, stage}   (moderators)
  failures: {ok: false, error: {code, message}}
Server -> room f"session:{id}":
  stage:update  <snapshot>  (see Stage.snapshot / docs/protocol.md, "Live stage")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.errors import ApiError
from server.roles import Principal
from signaling.keys import REGISTRY

Ack = dict[str, Any]


def _error(code: str, message: str) -> Ack:
    # The acknowledgement shape every event shares (docs/protocol.md).
    return {"ok": False, "error": code, "message": message}


def register(app: web.Application, sio: Any) -> None:
    registry = app[REGISTRY]

    async def broadcast(snapshot: dict[str, Any]) -> None:
        await sio.emit("stage:update", snapshot, room=f"session:{snapshot['session']}")

    registry.listeners.append(broadcast)

    async def who(sid: str) -> Principal | None:
        try:
            session = await sio.get_session(sid)
        except KeyError:
            return None
        found = session.get("principal") if isinstance(session, dict) else None
        return found if isinstance(found, Principal) else None

    def handler(
        fn: Callable[[str, Principal, str, dict[str, Any]], Awaitable[Ack]],
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        async def wrapped(sid: str, data: Any = None) -> Ack:
            principal = await who(sid)
            if principal is None:
                return _error("unauthorized", "connect with a valid token first")
            if not isinstance(data, dict) or not isinstance(data.get("session"), str):
                return _error("invalid", "the payload must be an object with a session id")
            try:
                return await fn(sid, principal, data["session"], data)
            except ApiError as exc:
                return _error(exc.code, _message(exc))

        return wrapped

    async def state(sid: str, principal: Principal, session_id: str, data: dict[str, Any]) -> Ack:
        if not principal.can_watch(session_id):
            return _error("forbidden", "this token may not watch this session")
        await sio.enter_room(sid, f"session:{session_id}")
        stage = registry.stages.get(session_id)
        snap = stage.snapshot() if stage else registry.stage(session_id).snapshot()
        if stage is None:
            registry.stages.pop(session_id, None)
        return {"ok": True, "stage": snap, "ice_servers": registry.media.ice_servers_json()}

    async def program(sid: str, principal: Principal, session_id: str, data: dict[str, Any]) -> Ack:
        if not principal.can_moderate(session_id):
            return _error("forbidden", "only a moderator of this session chooses who is on air")
        publisher = data.get("publisher")
        if publisher is not None and not isinstance(publisher, str):
            return _error("invalid", "publisher must be a publisher id or null")
        return {"ok": True, "stage": registry.set_program(session_id, publisher).snapshot()}

    sio.on("stage:state", handler(state))
    sio.on("stage:program", handler(program))


def _message(exc: ApiError) -> str:
    import json

    try:
        return str(json.loads(exc.text or "{}")["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.reason
