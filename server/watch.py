"""Watch time per mode: WebRTC, HLS, replay (the organizer's report).

The player beats every `BEAT_S` while it plays (`POST /api/sessions/{id}/watch`).
Each beat adds the time since the participant's previous beat in that mode,
if it came within `GAP_S` (a longer gap is a pause or a closed tab, and
counts nothing). Two tabs beating in turn therefore count wall time once.
The server's clock decides: a client cannot claim more than it was there.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import utcnow
from server.models_hls import MODES, WatchTime

BEAT_S = 30
GAP_S = 75
# The report's columns, per session and in the totals.
COLUMNS = tuple(f"{m}_{k}" for m in MODES for k in ("viewers", "watch_seconds"))


async def beat(s: AsyncSession, session_id: str, participant_id: int, mode: str,
               now: dt.datetime | None = None) -> int:
    """Record one beat; returns the participant's seconds in that mode so far."""
    assert mode in MODES
    now = now or utcnow()
    row = await s.get(WatchTime, (session_id, participant_id, mode))
    if row is None:
        row = WatchTime(session_id=session_id, participant_id=participant_id, mode=mode,
                        seconds=0, first_at=now, last_at=now)
        s.add(row)
        return 0
    gap = (now - row.last_at).total_seconds()
    if 0 < gap <= GAP_S:
        row.seconds += round(gap)
    if gap > 0:
        row.last_at = now
    return row.seconds


async def figures(s: AsyncSession) -> dict[str, dict[str, dict[str, int]]]:
    """session → mode → {"viewers": distinct participants, "watch_seconds": sum}."""
    rows = (await s.execute(
        select(WatchTime.session_id, WatchTime.mode,
               func.count(func.distinct(WatchTime.participant_id)), func.sum(WatchTime.seconds))
        .group_by(WatchTime.session_id, WatchTime.mode)
    )).all()
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for session_id, mode, viewers, seconds in rows:
        out[session_id][mode] = {"viewers": int(viewers), "watch_seconds": int(seconds or 0)}
    return out


def per_session(fig: dict[str, dict[str, dict[str, int]]], session_id: str) -> dict[str, Any]:
    """The report's columns for one session: `<mode>_viewers`, `<mode>_watch_seconds`."""
    row: dict[str, Any] = {}
    for mode in MODES:
        f = fig.get(session_id, {}).get(mode, {})
        row[f"{mode}_viewers"] = f.get("viewers", 0)
        row[f"{mode}_watch_seconds"] = f.get("watch_seconds", 0)
    return row
