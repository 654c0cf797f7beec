"""Organizer live API: who is online, live and peak viewer counts, attendance.

The counts come from the shared LiveState, so any process answers the same.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from server import attendance
from server.auth import require_organizer
from server.errors import not_found
from server.keys import DB, LIVE
from server.models import Session
from server.models_interaction import Attendance


async def _session_ids(request: web.Request) -> list[str]:
    async with request.app[DB].session() as s:
        return list(await s.scalars(select(Session.id).order_by(Session.starts_at, Session.id)))


async def live_counts(request: web.Request) -> web.Response:
    await require_organizer(request)
    ids = await _session_ids(request)
    counts = await request.app[LIVE].presence_counts(ids)
    return web.json_response({"sessions": [
        {"session": s, "count": counts[s].count, "peak": counts[s].peak} for s in ids]})


async def live_session(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = request.match_info["id"]
    if session_id not in await _session_ids(request):
        raise not_found("session")
    live = request.app[LIVE]
    counts = (await live.presence_counts([session_id]))[session_id]
    online = await live.presence_online(session_id)
    return web.json_response({
        "session": session_id, "count": counts.count, "peak": counts.peak,
        "online": [{"user": m.key, "name": m.name} for m in online]})


async def attendance_summary(request: web.Request) -> web.Response:
    await require_organizer(request)
    async with request.app[DB].session() as s:
        rows = (await s.execute(
            select(Session.id, Session.peak_viewers,
                   func.count(func.distinct(Attendance.subject_key)))
            .outerjoin(Attendance, Attendance.session_id == Session.id)
            .group_by(Session.id, Session.peak_viewers)
            .order_by(Session.id))).all()
    return web.json_response({"sessions": [
        {"session": sid, "participants": n, "peak": peak} for sid, peak, n in rows]})


async def attendance_session(request: web.Request) -> web.Response:
    await require_organizer(request)
    return web.json_response(await attendance.report(request.app[DB], request.match_info["id"]))


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/live", live_counts)
    r.add_get("/api/live/{id}", live_session)
    r.add_get("/api/attendance", attendance_summary)
    r.add_get("/api/attendance/{id}", attendance_session)
