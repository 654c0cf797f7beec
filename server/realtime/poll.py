"""poll:list, poll:create, poll:delete, poll:open, poll:reveal, poll:close,
poll:vote, poll:ballots.

Those who run a session's polls (server/poll.py `can_run`) are in the room
`polls:<session>` from `session:join` on; they get every change with its
results. Everyone else in the session room gets open/closed polls, with
results once revealed. Live results are pushed per poll at most once per
`poll_tick` (a vote rush costs a handful of frames, not one per vote), each
carrying the poll's `version` so clients keep the newest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import socketio
from aiohttp import web
from pydantic import Field

from server import poll
from server.coalesce import Coalescer
from server.interaction import Refused
from server.keys import DB, SETTINGS, SHARED, SIO
from server.realtime.common import (
    PRESENCE,
    Ack,
    Payload,
    RowId,
    SessionId,
    Text,
    on,
    polls_room,
    session_room,
    user_room,
)
from server.realtime.fanout import encode_event
from server.realtime.roomcast import ROOMCAST, Roomcast
from server.roles import Principal

Option = Annotated[str, Field(max_length=500)]


class ListIn(Payload):
    session: SessionId


class CreateIn(Payload):
    session: SessionId
    question: Text
    options: Annotated[list[Option], Field(max_length=poll.MAX_OPTIONS)]
    multiple: bool = False
    anonymous: bool = False


class PollIn(Payload):
    poll: RowId  # past 2^63 the database raises: "invalid", not "internal"


class VoteIn(Payload):
    poll: RowId
    choices: Annotated[list[int], Field(max_length=poll.MAX_OPTIONS)]


class PollCast:
    """Sends poll changes and coalesced live results through the roomcast."""

    def __init__(self, app: web.Application, roomcast: Roomcast) -> None:
        self.app, self.roomcast = app, roomcast
        self.results: Coalescer[int, None] = Coalescer(
            app[SETTINGS].interaction.poll_tick, self._flush_results)

    async def change(self, change: poll.Change) -> None:
        sio = self.app[SIO]
        full = encode_event(sio, "poll:update", change.full)
        staff = polls_room(change.session_id)
        if change.public is None:
            await self.roomcast.publish([staff], [full])
        else:
            await self.roomcast.publish([session_room(change.session_id), staff],
                                        [encode_event(sio, "poll:update", change.public)],
                                        alt=full, alt_room=staff)

    async def _flush_results(self, poll_id: int, _: list[None]) -> None:
        found = await poll.current(self.app[DB], poll_id)
        if found is None:
            return
        p, r = found
        packet = encode_event(self.app[SIO], "poll:results", poll.results_view(p, r))
        rooms = [polls_room(p.session_id)]
        if p.revealed:
            rooms.append(session_room(p.session_id))
        await self.roomcast.publish(rooms, [packet])


POLLCAST: web.AppKey[PollCast] = web.AppKey("pollcast", PollCast)


async def pollcast_ctx(app: web.Application) -> AsyncIterator[None]:
    cast = PollCast(app, app[ROOMCAST])
    app[POLLCAST] = cast
    cast.results.start()
    yield
    await cast.results.close()


def register(app: web.Application, sio: socketio.AsyncServer) -> None:
    cfg = app[SETTINGS].interaction

    @on(sio, "poll:list", ListIn)
    async def list_polls(sid: str, principal: Principal, p: ListIn) -> Ack:
        if not app[PRESENCE].joined(sid, p.session):
            raise Refused("not_joined")
        return await poll.visible(app[DB], principal, p.session)

    @on(sio, "poll:create", CreateIn)
    async def create(sid: str, principal: Principal, p: CreateIn) -> Ack:
        change = await poll.create(app[DB], app[SHARED], cfg, principal, p.session, p.question,
                                   p.options, p.multiple, p.anonymous)
        await app[POLLCAST].change(change)
        return {"poll": change.full}

    @on(sio, "poll:delete", PollIn)
    async def remove(sid: str, principal: Principal, p: PollIn) -> Ack:
        change = await poll.remove(app[DB], app[SHARED], cfg, principal, p.poll)
        await app[POLLCAST].change(change)
        return {"poll": change.full}

    def transition(action: str) -> None:
        @on(sio, f"poll:{action}", PollIn)
        async def handler(sid: str, principal: Principal, p: PollIn) -> Ack:
            changes = await poll.transition(app[DB], app[SHARED], cfg, principal, p.poll, action)
            for change in changes:
                await app[POLLCAST].change(change)
            return {"poll": changes[0].full}

    for action in ("open", "reveal", "close"):
        transition(action)

    @on(sio, "poll:vote", VoteIn)
    async def vote(sid: str, principal: Principal, p: VoteIn) -> Ack:
        ballot = await poll.vote(app[DB], app[SHARED], cfg, principal, p.poll, p.choices,
                                 lambda session_id: app[PRESENCE].joined(sid, session_id))
        app[POLLCAST].results.add(p.poll, None)
        # The voter's other tabs learn the ballot (never anyone else).
        await sio.emit("poll:voted", ballot, room=user_room(principal.key), skip_sid=sid)
        return ballot

    @on(sio, "poll:ballots", PollIn)
    async def ballots(sid: str, principal: Principal, p: PollIn) -> Ack:
        return await poll.ballots(app[DB], principal, p.poll)
