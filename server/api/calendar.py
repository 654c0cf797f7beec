"""Calendar (.ics) exports of one session or the whole program."""

from __future__ import annotations

from aiohttp import web
from icalendar import Calendar
from icalendar import Event as VEvent
from sqlalchemy import select

from server.errors import not_found
from server.keys import DB, SETTINGS
from server.models import Event, Session


def _calendar(event: Event, sessions: list[Session], base_url: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//halqa//program//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", event.name.get("fr") or next(iter(event.name.values())))
    for s in sessions:
        ve = VEvent()
        ve.add("uid", f"{s.id}@{event.id}.halqa")
        ve.add("dtstart", s.starts_at)
        ve.add("dtend", s.ends_at)
        title = s.title.get("fr") or next(iter(s.title.values()))
        ve.add("summary", title)
        names = ", ".join(link.speaker.name for link in s.speakers)
        ve.add("description", f"{names}\n{base_url}/session/{s.id}".strip())
        ve.add("url", f"{base_url}/session/{s.id}")
        if s.room:
            ve.add("location", s.room)
        cal.add_component(ve)
    return bytes(cal.to_ical())


def _ics(body: bytes, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def session_ics(request: web.Request) -> web.Response:
    async with request.app[DB].session() as s:
        row = await s.get(Session, request.match_info["id"])
        if row is None:
            raise not_found("session")
        event = await s.get(Event, row.event_id)
        assert event is not None
        body = _calendar(event, [row], request.app[SETTINGS].base_url)
    return _ics(body, f"{row.id}.ics")


async def program_ics(request: web.Request) -> web.Response:
    async with request.app[DB].session() as s:
        event = await s.scalar(select(Event).limit(1))
        if event is None:
            raise not_found("event")
        sessions = list(await s.scalars(select(Session).order_by(Session.starts_at)))
        body = _calendar(event, sessions, request.app[SETTINGS].base_url)
    return _ics(body, f"{event.id}.ics")
