"""The organizers' report: the figures they publish after the event.

Computed from the database only (registrations, attendance intervals,
questions), never from Redis, so it is the same after a restart and on every
process. A *viewer* is a registered participant: speakers, moderators and
organizers watching are not counted. Two tabs of one participant count once,
both for the peak and for watch time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import interpretation, poll, reaction, watch
from server.attendance import Span, merge
from server.models import Event, Participant, Session, SessionSpeaker, Speaker
from server.models_interaction import Attendance, ChatMessage, Question


def peak(per_person: dict[Any, list[Span]]) -> int:
    """The most people present at one instant (a leave sorts before a join)."""
    edges: list[tuple[dt.datetime, int]] = []
    for spans in per_person.values():
        for start, end in spans:
            edges += [(start, 1), (end, -1)]
    best = current = 0
    for _, step in sorted(edges):
        current += step
        best = max(best, current)
    return best


async def build(s: AsyncSession) -> dict[str, Any]:
    event = await s.scalar(select(Event).limit(1))
    sessions = list(await s.scalars(select(Session).order_by(Session.starts_at, Session.id)))
    registered = dict(
        (await s.execute(select(Participant.country, func.count()).group_by(Participant.country)))
        .all()
    )
    stays = (await s.execute(
        select(Attendance.session_id, Attendance.participant_id, Participant.country,
               Attendance.joined_at, Attendance.seen_at, Attendance.left_at)
        .join(Participant, Participant.id == Attendance.participant_id)
    )).all()
    questions = dict((await s.execute(
        select(Question.session_id, func.count()).group_by(Question.session_id))).all())
    messages = dict((await s.execute(
        select(ChatMessage.session_id, func.count()).group_by(ChatMessage.session_id)
    )).all())
    polls = await poll.report_rows(s)
    reactions = await reaction.totals(s)
    listening = await interpretation.listening_report(s)
    speaker_rows = (await s.execute(
        select(Speaker.id, Speaker.country)
        .join(SessionSpeaker, SessionSpeaker.speaker_id == Speaker.id).distinct()
    )).all()

    spans: dict[str, dict[int, list[Span]]] = defaultdict(lambda: defaultdict(list))
    country_of: dict[int, str] = {}
    for session_id, pid, country, joined, seen, left in stays:
        assert pid is not None  # the join keeps participants only
        spans[session_id][pid].append((joined, max(left or seen, joined)))
        country_of[pid] = country
    attended_by_country: dict[str, int] = defaultdict(int)
    for country in country_of.values():
        attended_by_country[country] += 1

    # Live viewers on WebRTC and HLS, replay viewers: from the players' beats.
    by_mode = await watch.figures(s)

    # Times in the event's zone, as the program shows them.
    tz = ZoneInfo(event.timezone) if event else dt.UTC
    rows = []
    for x in sessions:
        people = {pid: merge(v) for pid, v in spans.get(x.id, {}).items()}
        seconds = sum((e - b).total_seconds() for v in people.values() for b, e in v)
        rows.append({
            "id": x.id, "kind": x.kind, "title": x.title,
            "starts_at": x.starts_at.astimezone(tz).isoformat(),
            "peak_viewers": peak(people),
            "total_viewers": len(people),
            "watch_seconds": round(seconds),
            "questions": questions.get(x.id, 0),
            "chat_messages": messages.get(x.id, 0),
            "polls": polls.get(x.id, []),
            "reactions": {name: reactions.get(x.id, {}).get(name, 0)
                          for name in reaction.REACTIONS},
            # Per interpretation language: participants who listened, and for how long.
            "interpretation": listening.get(x.id, {}),
            **watch.per_session(by_mode, x.id),
        })
    participant_countries = set(registered)
    speaker_countries = {c for _, c in speaker_rows if c}
    return {
        "event": {"id": event.id, "name": event.name} if event else None,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "totals": {
            "registered": sum(registered.values()),
            "attended": len(country_of),
            "speakers": len(speaker_rows),
            "speaker_countries": len(speaker_countries),
            "participant_countries": len(participant_countries),
            "countries": len(participant_countries | speaker_countries),
            "sessions": len(sessions),
            "questions": sum(questions.values()),
            "chat_messages": sum(messages.values()),
            "watch_seconds": sum(r["watch_seconds"] for r in rows),
            **{k: sum(r[k] for r in rows) for k in watch.COLUMNS},
        },
        "countries": [
            {"country": c, "registered": n, "attended": attended_by_country.get(c, 0)}
            for c, n in sorted(registered.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "sessions": rows,
    }


def sessions_csv(report: dict[str, Any], language: str = "fr") -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["session", "title", "kind", "starts_at", "peak_viewers", "total_viewers",
                "watch_minutes", "questions", "chat_messages", "polls",
                *(f"reactions_{name}" for name in reaction.REACTIONS), *watch.COLUMNS])
    for r in report["sessions"]:
        title = r["title"].get(language) or next(iter(r["title"].values()), "")
        w.writerow([r["id"], _cell(title), r["kind"], r["starts_at"], r["peak_viewers"],
                    r["total_viewers"], round(r["watch_seconds"] / 60, 1), r["questions"],
                    r["chat_messages"], len(r["polls"]),
                    *(r["reactions"][name] for name in reaction.REACTIONS),
                    *(r[k] for k in watch.COLUMNS)])
    return out.getvalue()


def polls_csv(report: dict[str, Any], language: str = "fr") -> str:
    """One row per option of every poll that was opened."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["session", "title", "poll", "question", "option", "votes", "voters",
                "multiple", "anonymous"])
    for r in report["sessions"]:
        title = r["title"].get(language) or next(iter(r["title"].values()), "")
        for p in r["polls"]:
            for o in p["options"]:
                w.writerow([r["id"], _cell(title), p["id"], _cell(p["question"]),
                            _cell(o["text"]), o["votes"], p["voters"], p["multiple"],
                            p["anonymous"]])
    return out.getvalue()


def countries_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["country", "registered", "attended"])
    for r in report["countries"]:
        w.writerow([r["country"], r["registered"], r["attended"]])
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
