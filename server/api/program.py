"""GET /api/program and GET /api/sessions/{id}: public, no token needed."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from server import stages
from server.api.common import json_response
from server.errors import not_found
from server.keys import DB, LIVE
from server.models import Event, Session
from server.program import program_json, session_json


async def get_program(request: web.Request) -> web.Response:
    async with request.app[DB].session() as s:
        data = await program_json(s, await stages.live_sessions(request.app))
    # How many are watching each session now: from the shared presence, so
    # every process shows the same figure.
    counts = await request.app[LIVE].presence_counts([x["id"] for x in data["sessions"]])
    for x in data["sessions"]:
        x["viewers"] = counts[x["id"]].count
    return json_response(data)


async def get_session(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    async with request.app[DB].session() as s:
        row = await s.get(Session, session_id)
        if row is None:
            raise not_found("session")
        event = await s.get(Event, row.event_id)
        assert event is not None
        live = session_id in await stages.live_sessions(request.app)
        return json_response(session_json(row, ZoneInfo(event.timezone), live))
