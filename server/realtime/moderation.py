"""Moderator events: sanctions (mute/ban), session settings, who is online."""

from __future__ import annotations

from typing import Annotated, Literal

import socketio
from aiohttp import web
from pydantic import Field, model_validator

from server import moderation
from server.errors import Forbidden
from server.keys import DB, SETTINGS, SHARED
from server.moderation import SanctionChange, Target
from server.realtime.common import Ack, Payload, RowId, SessionId, on, session_room, user_room
from server.revocation import Cut, cut
from server.roles import Principal


class SanctionIn(Payload):
    session: SessionId | None  # None: event-wide
    action: Literal["mute", "unmute", "ban", "unban"]
    message: RowId | None = None
    question: RowId | None = None
    user: Annotated[str, Field(max_length=32)] | None = None
    sanction: RowId | None = None  # an id from moderation:sanctions

    @model_validator(mode="after")
    def _one_target(self) -> SanctionIn:
        targets = (self.message, self.question, self.user, self.sanction)
        if sum(x is not None for x in targets) != 1:
            raise ValueError("name exactly one of message, question, user, sanction")
        return self


class SessionUpdateIn(Payload):
    session: SessionId
    state: Literal["scheduled", "open", "closed"] | None = None
    qa_mode: Literal["moderated", "open"] | None = None
    slow_mode: Annotated[int, Field(ge=0, le=3600)] | None = None


class SessionOptIn(Payload):
    session: SessionId | None = None


class SessionIn(Payload):
    session: SessionId


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "moderation:sanction", SanctionIn)
    async def sanction(sid: str, principal: Principal, p: SanctionIn) -> Ack:
        change = await moderation.sanction(
            app[DB], principal, p.session, p.action,
            Target(message=p.message, question=p.question, user=p.user, sanction=p.sanction))
        await sio.emit("moderation:sanction", _notice(change), room=user_room(change.subject_key))
        if change.kind == "ban" and change.active:
            # Media first (every process, within a second), then the sockets.
            await cut(app, Cut(change.subject_key, session=change.session_id))
            await _remove(app, sio, change)
        return change.public()

    @on(sio, "session:update", SessionUpdateIn)
    async def update(sid: str, principal: Principal, p: SessionUpdateIn) -> Ack:
        settings = await moderation.update_session(
            app[DB], principal, p.session, p.state, p.qa_mode, p.slow_mode,
            max_slow_mode=app[SETTINGS].interaction.max_slow_mode)
        await sio.emit("session:settings", settings, room=session_room(p.session))
        return settings

    @on(sio, "moderation:online", SessionIn)
    async def online(sid: str, principal: Principal, p: SessionIn) -> Ack:
        if not principal.can_moderate(p.session):
            raise Forbidden("forbidden")
        members = await app[SHARED].presence_online(p.session)
        return {"session": p.session, "online": [{"user": m.key, "name": m.name}
                                                 for m in members]}

    @on(sio, "moderation:sanctions", SessionOptIn)
    async def sanctions(sid: str, principal: Principal, p: SessionOptIn) -> Ack:
        return {"sanctions": await moderation.list_sanctions(app[DB], principal, p.session)}


def _notice(change: SanctionChange) -> dict[str, object]:
    return {"session": change.session_id, "kind": change.kind, "active": change.active}


async def _remove(app: web.Application, sio: socketio.AsyncServer,
                  change: SanctionChange) -> None:
    """Disconnect a banned identity's connections, in every process: python-socketio
    forwards a disconnect of another process's sid through Redis. On reconnect
    they are refused."""
    sids = await moderation.banned_connections(app[DB], app[SHARED], change)
    if change.session_id is None:
        sids.update(sid for sid, _ in sio.manager.get_participants(
            "/", user_room(change.subject_key)))
    for sid in sids:
        await sio.disconnect(sid)
