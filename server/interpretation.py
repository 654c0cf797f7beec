"""Simultaneous interpretation, the server's side: who may interpret, who listened.

The media side (channels, hand-over, what each viewer hears) is in
signaling/interpretation.py; here are the rules of the `interpreter` role
(bound to one session and one of the event's languages), and the listening
log behind the report's per-language figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import signaling
from server.attendance import Span, merge
from server.db import Database
from server.errors import invalid_fields
from server.keys import DB
from server.models import Participant, utcnow
from server.models_interpretation import Listening
from server.roles import Principal, Role

_log = structlog.get_logger("halqa.interpretation")

# The event's languages: what participants register with and what interpreters feed.
LANGUAGES = ("fr", "ar", "en")


def check_interpreter(session_id: str | None, language: str | None) -> None:
    """An interpreter is invited to one session and one of the event's languages."""
    problems = {}
    if session_id is None:
        problems["session"] = "an interpreter is invited to one session"
    if language not in LANGUAGES:
        problems["language"] = f"one of {', '.join(LANGUAGES)}"
    if problems:
        raise invalid_fields(problems)


async def who_listens(db: Database, principal: Principal) -> dict[str, Any]:
    """What the watch page and the console need to know of the caller.

    `language`: a participant's registered language (the watch page's default
    channel), an interpreter's channel language; `session`: an interpreter's session.
    """
    language = principal.language
    if principal.participant_id is not None:
        async with db.session() as s:
            language = await s.scalar(
                select(Participant.language).where(Participant.id == principal.participant_id))
    return {"role": principal.role.value, "language": language,
            "session": principal.session_id if principal.role is Role.interpreter else None}


# How often the server looks at who hears which channel: the listening time's resolution.
SAMPLE_S = 2.0


class ListeningLog:
    """Turns "who hears which channel now" samples into Listening rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.open: dict[tuple[str, str], int] = {}  # (viewer id, language) -> row id

    async def sample(self, now_hearing: list[tuple[str, str, str, str]]) -> None:
        current = {(viewer, language): (session, owner)
                   for session, viewer, owner, language in now_hearing}
        gone = [row for key, row in self.open.items() if key not in current]
        fresh = [key for key in current if key not in self.open]
        if not gone and not fresh and not self.open:
            return
        async with self.db.transaction() as s:
            now = utcnow()
            if gone:
                await s.execute(update(Listening).where(Listening.id.in_(gone))
                                .values(ended_at=now, seen_at=now))
            kept = [row for key, row in self.open.items() if key in current]
            if kept:
                await s.execute(update(Listening).where(Listening.id.in_(kept))
                                .values(seen_at=now))
            for viewer, language in fresh:
                session, owner = current[(viewer, language)]
                pid = int(owner[1:]) if owner[:1] == "p" and owner[1:].isdigit() else None
                row = Listening(session_id=session, language=language, subject_key=owner,
                                participant_id=pid, started_at=now, seen_at=now)
                s.add(row)
                await s.flush()
                self.open[(viewer, language)] = row.id
        for key in [k for k in self.open if k not in current]:
            del self.open[key]


async def listening_recorder(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: sample signaling's listeners every SAMPLE_S into the database."""
    log = ListeningLog(app[DB])

    async def run() -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            try:
                await log.sample(signaling.listening(app))
            except Exception as exc:  # the database away: keep sampling
                _log.warning("listening_sample_failed", error=repr(exc))

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await log.sample([])  # close what is open


async def listening_report(s: AsyncSession) -> dict[str, dict[str, dict[str, int]]]:
    """session -> language -> {listeners, listen_seconds}; registered participants only."""
    rows = (await s.execute(
        select(Listening.session_id, Listening.language, Listening.participant_id,
               Listening.started_at, Listening.seen_at, Listening.ended_at)
        .where(Listening.participant_id.is_not(None)))).all()
    spans: dict[tuple[str, str], dict[int, list[Span]]] = defaultdict(lambda: defaultdict(list))
    for session, language, pid, start, seen, ended in rows:
        assert pid is not None  # the query keeps participants only
        spans[(session, language)][pid].append((start, max(ended or seen, start)))
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for (session, language), people in spans.items():
        seconds = sum((e - b).total_seconds() for v in people.values() for b, e in merge(v))
        out[session][language] = {"listeners": len(people), "listen_seconds": round(seconds)}
    return dict(out)
