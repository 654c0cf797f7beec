"""The organizer's view of the audience: who is online, current and peak viewer
counts, attendance. (The URLs keep their first name, /api/live: the admin
page and organizers' scripts use them.)

The counts come from SharedState (Redis with several processes), so any process
answers the same; /api/cluster says which node serves what.
"""

from __future__ import annotations

from aiohttp import web

import signaling
from server import attendance
from server.auth import require_organizer
from server.errors import not_found
from server.keys import DB, SHARED
from server.program import session_ids


async def _session_ids(request: web.Request) -> list[str]:
    async with request.app[DB].session() as s:
        return await session_ids(s)


async def audience_counts(request: web.Request) -> web.Response:
    await require_organizer(request)
    ids = await _session_ids(request)
    counts = await request.app[SHARED].presence_counts(ids)
    return web.json_response({"sessions": [
        {"session": s, "count": counts[s].count, "peak": counts[s].peak} for s in ids]})


async def session_audience(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = request.match_info["id"]
    if session_id not in await _session_ids(request):
        raise not_found("session")
    shared = request.app[SHARED]
    counts = (await shared.presence_counts([session_id]))[session_id]
    online = await shared.presence_online(session_id)
    return web.json_response({
        "session": session_id, "count": counts.count, "peak": counts.peak,
        "online": [{"user": m.key, "name": m.name} for m in online]})


async def cluster(request: web.Request) -> web.Response:
    """Every halqa process: its stages, viewers, pulls and load (the dashboard's table)."""
    await require_organizer(request)
    return web.json_response(await signaling.cluster_view(request.app))


async def attendance_summary(request: web.Request) -> web.Response:
    await require_organizer(request)
    return web.json_response({"sessions": await attendance.summary(request.app[DB])})


async def attendance_session(request: web.Request) -> web.Response:
    await require_organizer(request)
    return web.json_response(await attendance.report(request.app[DB], request.match_info["id"]))


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/live", audience_counts)
    r.add_get("/api/live/{id}", session_audience)
    r.add_get("/api/cluster", cluster)
    r.add_get("/api/attendance", attendance_summary)
    r.add_get("/api/attendance/{id}", attendance_session)
