"""question:ask, question:vote, question:moderate."""

from __future__ import annotations

from typing import Literal

import socketio
from aiohttp import web

from server import question
from server.interaction import Refused
from server.keys import DB, SETTINGS, SHARED
from server.realtime.common import (
    PRESENCE,
    Ack,
    Payload,
    RowId,
    SessionId,
    Text,
    mod_room,
    on,
    session_room,
    user_room,
)
from server.roles import Principal


class AskIn(Payload):
    session: SessionId
    text: Text
    anonymous: bool = False


class VoteIn(Payload):
    question: RowId
    up: bool = True


class ModerateIn(Payload):
    question: RowId
    action: Literal["approve", "reject", "answer", "highlight", "unhighlight"]


async def publish(sio: socketio.AsyncServer, change: question.Change) -> None:
    q = change.question
    if change.public:
        await sio.emit("question:update", q, room=session_room(q["session"]))
    else:
        # Pending (or rejected before anyone saw it): moderators and the author only.
        await sio.emit("question:update", q,
                       to=[mod_room(q["session"]), user_room(change.author_key)])


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    @on(sio, "question:ask", AskIn)
    async def ask(sid: str, principal: Principal, p: AskIn) -> Ack:
        if not app[PRESENCE].joined(sid, p.session):
            raise Refused("not_joined")
        change = await question.ask(app[DB], app[SHARED], app[SETTINGS].interaction, principal,
                                    p.session, p.text, p.anonymous)
        await publish(sio, change)
        return {"question": change.question}

    @on(sio, "question:vote", VoteIn)
    async def vote(sid: str, principal: Principal, p: VoteIn) -> Ack:
        change = await question.vote(app[DB], app[SHARED], app[SETTINGS].interaction, principal,
                                     p.question, p.up)
        await publish(sio, change)
        # The voter's other tabs learn that this identity voted.
        await sio.emit("question:voted", {"question": p.question, "up": p.up},
                       room=user_room(principal.key), skip_sid=sid)
        return {"question": change.question, "voted": p.up}

    @on(sio, "question:moderate", ModerateIn)
    async def moderate(sid: str, principal: Principal, p: ModerateIn) -> Ack:
        changes = await question.moderate(app[DB], principal, p.question, p.action)
        for change in changes:
            await publish(sio, change)
        return {"question": changes[0].question}
