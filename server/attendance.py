"""Attendance: one row per connection's stay in a session, for the organizer's report.

Rows are opened on `session:join` and closed on leave or disconnect. While a
connection lives, its process advances `seen_at` for all its open rows in one
UPDATE per heartbeat; a crashed process's rows therefore end at its last
heartbeat instead of staying open for ever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from server.db import Database
from server.errors import not_found
from server.interaction import iso
from server.models import Session, utcnow
from server.models_interaction import Attendance
from server.roles import Principal


async def open_stay(db: Database, session_id: str, principal: Principal) -> int:
    async with db.transaction() as s:
        row = Attendance(session_id=session_id, subject_key=principal.key,
                         participant_id=principal.participant_id, name=principal.name)
        s.add(row)
        await s.flush()
        return row.id


async def close_stays(db: Database, ids: Sequence[int]) -> None:
    if ids:
        async with db.transaction() as s:
            now = utcnow()
            await s.execute(update(Attendance).where(Attendance.id.in_(ids))
                            .values(left_at=now, seen_at=now))


async def touch(db: Database, ids: Sequence[int]) -> None:
    if ids:
        async with db.transaction() as s:
            await s.execute(update(Attendance).where(Attendance.id.in_(ids))
                            .values(seen_at=utcnow()))


Span = tuple[dt.datetime, dt.datetime]


def merge(spans: list[Span]) -> list[Span]:
    """Overlapping or touching spans of one person become one (two tabs count once)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _merged_seconds(spans: list[Span]) -> float:
    """Total time covered by possibly overlapping spans."""
    return sum((end - start).total_seconds() for start, end in merge(spans))


async def summary(db: Database) -> list[dict[str, Any]]:
    """Every session: distinct participants who attended, and the peak viewer count."""
    async with db.session() as s:
        rows = (await s.execute(
            select(Session.id, Session.peak_viewers,
                   func.count(func.distinct(Attendance.subject_key)))
            .outerjoin(Attendance, Attendance.session_id == Session.id)
            .group_by(Session.id, Session.peak_viewers)
            .order_by(Session.id))).all()
    return [{"session": sid, "participants": n, "peak": peak} for sid, peak, n in rows]


async def report(db: Database, session_id: str) -> dict[str, Any]:
    async with db.session() as s:
        session = await s.get(Session, session_id)
        if session is None:
            raise not_found("session")
        rows = (await s.scalars(
            select(Attendance).where(Attendance.session_id == session_id)
            .order_by(Attendance.id))).all()
    people: dict[str, dict[str, Any]] = {}
    spans: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for r in rows:
        end = r.left_at or r.seen_at
        p = people.setdefault(r.subject_key, {
            "key": r.subject_key, "participant": r.participant_id, "name": r.name,
            "first_joined": r.joined_at, "last_seen": end, "stays": 0})
        p["stays"] += 1
        p["first_joined"] = min(p["first_joined"], r.joined_at)
        p["last_seen"] = max(p["last_seen"], end)
        spans.setdefault(r.subject_key, []).append((r.joined_at, max(end, r.joined_at)))
    out = []
    for key, p in people.items():
        out.append({**p, "first_joined": iso(p["first_joined"]),
                    "last_seen": iso(p["last_seen"]),
                    "seconds": round(_merged_seconds(spans[key]), 1)})
    return {"session": session_id, "participants": len(out), "peak": session.peak_viewers,
            "attendance": out}
