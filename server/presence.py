"""Presence: who is in which session, and the viewer counts shown to clients.

The shared truth is in SharedState (Redis across processes). This per-process
tracker remembers which of *its* connections joined which session, so it can
(1) refresh all of them in one SharedState call per heartbeat, (2) leave them on
disconnect, and (3) report each session's counts through `on_counts` at most
once a second, only when they changed. The realtime layer supplies
`on_counts` (it pushes `presence:count` to this process's own clients), and
every process re-reads the shared count, so all processes agree within a tick.

Viewers are participants: staff (speakers, moderators, organizers) join the
session's rooms but are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import update

from server import attendance, chat, question
from server.config import InteractionSettings
from server.db import Database
from server.interaction import Refused, load_session, session_settings
from server.models import Session
from server.moderation import sanctions_in
from server.roles import Principal, Role
from server.shared import Counts, Presence, SharedState

log = structlog.get_logger("halqa.presence")
COUNT_INTERVAL = 1.0
# (session id, its counts): called when a session's counts changed.
CountsListener = Callable[[str, Counts], Awaitable[None]]


@dataclass
class Stay:
    presence: Presence
    counted: bool
    attendance_id: int | None


class PresenceTracker:
    def __init__(self, shared: SharedState, db: Database, on_counts: CountsListener,
                 ttl: float) -> None:
        self.shared, self.db, self.on_counts, self.ttl = shared, db, on_counts, ttl
        self.stays: dict[str, dict[str, Stay]] = {}  # sid → session → stay
        self._shown: dict[str, Counts] = {}
        self._peak_saved: dict[str, int] = {}
        self._generation: str | None = None

    def sessions(self) -> set[str]:
        return {s for by_session in self.stays.values() for s in by_session}

    def joined(self, sid: str, session_id: str) -> bool:
        return session_id in self.stays.get(sid, {})

    async def join(self, sid: str, principal: Principal, session_id: str) -> Counts:
        p = Presence(session_id, principal.key, sid, principal.name)
        if principal.role is not Role.participant:
            self.stays.setdefault(sid, {})[session_id] = Stay(p, False, None)
            return (await self.shared.presence_counts([session_id]))[session_id]
        counts = await self.shared.presence_join(p, self.ttl)
        if not self.joined(sid, session_id):
            att = await attendance.open_stay(self.db, session_id, principal)
            self.stays.setdefault(sid, {})[session_id] = Stay(p, True, att)
        return counts

    async def leave(self, sid: str, session_id: str) -> None:
        stay = self.stays.get(sid, {}).pop(session_id, None)
        if not self.stays.get(sid):
            self.stays.pop(sid, None)
        if stay is None or not stay.counted:
            return
        await self.shared.presence_leave(session_id, stay.presence.key, sid)
        if stay.attendance_id is not None:
            await attendance.close_stays(self.db, [stay.attendance_id])

    async def drop(self, sid: str) -> None:
        for session_id in list(self.stays.get(sid, {})):
            await self.leave(sid, session_id)

    async def refresh(self) -> None:
        """One heartbeat for every counted connection of this process."""
        stays = [st for by in self.stays.values() for st in by.values() if st.counted]
        await self.shared.presence_refresh([st.presence for st in stays], self.ttl)
        await attendance.touch(self.db, [st.attendance_id for st in stays
                                         if st.attendance_id is not None])

    async def push_counts(self) -> None:
        sessions = sorted(self.sessions())
        if not sessions:
            return
        for session_id, counts in (await self.shared.presence_counts(sessions)).items():
            if self._shown.get(session_id) != counts:
                self._shown[session_id] = counts
                await self.on_counts(session_id, counts)
            if counts.peak > self._peak_saved.get(session_id, 0):
                self._peak_saved[session_id] = counts.peak
                await _record_peak(self.db, session_id, counts.peak)

    async def run(self) -> None:
        """The per-process ticker: counts every second, heartbeats every ttl/3."""
        ticks_per_refresh = max(1, int(self.ttl / 3 / COUNT_INTERVAL))
        tick = 0
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            tick += 1
            try:
                # A restarted Redis has forgotten everyone: write this
                # process's presence back now, not at the next heartbeat.
                generation = await self.shared.generation()
                if tick % ticks_per_refresh == 0 or generation != self._generation:
                    await self.refresh()
                    self._generation = generation
                await self.push_counts()
            except Exception:  # a Redis or DB hiccup must not end the ticker
                log.exception("presence_tick_failed")

    @contextlib.asynccontextmanager
    async def running(self) -> Any:
        task = asyncio.create_task(self.run(), name="presence-ticker")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # A clean shutdown closes the stays; a crash leaves them to expire.
            for sid in list(self.stays):
                with contextlib.suppress(Exception):
                    await self.drop(sid)


async def _record_peak(db: Database, session_id: str, peak: int) -> None:
    """Keep the peak viewer count in the database for the organizer's report."""
    async with db.transaction() as s:
        await s.execute(update(Session)
                        .where(Session.id == session_id, Session.peak_viewers < peak)
                        .values(peak_viewers=peak))


async def join_session(
    tracker: PresenceTracker, db: Database, cfg: InteractionSettings, principal: Principal,
    sid: str, session_id: str,
) -> dict[str, Any]:
    """Enter a session: refused when banned; returns the settings, counts, recent
    chat and the questions the caller may see (history on join)."""
    async with db.session() as s:
        settings = session_settings(await load_session(s, session_id))
        if "ban" in await sanctions_in(s, principal.key, session_id):
            raise Refused("banned")
    counts = await tracker.join(sid, principal, session_id)
    return {
        **settings,
        "count": counts.count,
        "peak": counts.peak,
        "moderator": principal.can_moderate(session_id),
        "role": principal.role.value,
        "name": principal.name,
        "chat": await chat.history(db, session_id, cfg.history),
        **await question.visible(db, principal, session_id),
    }
