"""The event's program: loaded from TOML or a pretalx/frab export, served as JSON.

Both file formats are parsed into one validated `ProgramFile`, then stored by
`store_program`, so the database sees a single shape whatever the source.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Event, Session, SessionSpeaker, Speaker

LANGUAGES = ("fr", "ar", "en")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
Kind = Literal["plenary", "panel", "workshop"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _texts(v: dict[str, str]) -> dict[str, str]:
    if not v:
        raise ValueError("at least one language is needed")
    unknown = set(v) - set(LANGUAGES)
    if unknown:
        raise ValueError(f"unknown languages {sorted(unknown)}; use {', '.join(LANGUAGES)}")
    return v


class EventIn(_Strict):
    id: str = Field(pattern=SLUG.pattern)
    name: dict[str, str]
    description: dict[str, str] = {}
    timezone: str
    venue: str = ""

    _name = field_validator("name")(_texts)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class SpeakerIn(_Strict):
    id: str = Field(pattern=SLUG.pattern)
    name: str = Field(min_length=1, max_length=200)
    country: str = Field("", pattern=r"^([A-Z]{2})?$")
    affiliation: str = ""


class SessionIn(_Strict):
    id: str = Field(pattern=SLUG.pattern)
    kind: Kind
    title: dict[str, str]
    description: dict[str, str] = {}
    room: str = ""
    # Local wall-clock times in the event's time zone (TOML local datetimes),
    # or aware datetimes (pretalx exports carry an offset).
    starts: dt.datetime
    ends: dt.datetime
    speakers: list[str] = []

    _title = field_validator("title")(_texts)

    @model_validator(mode="after")
    def _order(self) -> SessionIn:
        if self.ends <= self.starts:
            raise ValueError(f"session {self.id}: ends before it starts")
        return self


class ProgramFile(_Strict):
    event: EventIn
    speakers: list[SpeakerIn] = []
    sessions: list[SessionIn]

    @model_validator(mode="after")
    def _references(self) -> ProgramFile:
        known = {s.id for s in self.speakers}
        for session in self.sessions:
            missing = [sp for sp in session.speakers if sp not in known]
            if missing:
                raise ValueError(f"session {session.id}: unknown speakers {missing}")
        ids = [s.id for s in self.sessions]
        if len(ids) != len(set(ids)):
            raise ValueError("session ids must be unique")
        return self


class ProgramError(Exception):
    pass


def parse_program(path: Path) -> ProgramFile:
    """Read a TOML program or a pretalx/frab JSON schedule export."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProgramError(f"{path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".json":
            return from_frab(json.loads(text))
        return ProgramFile.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ProgramError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProgramError(f"{path}: {where}: {first['msg']}") from exc


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")
    return s or "x"


def _kind(type_: str) -> Kind:
    t = type_.lower()
    if "panel" in t or "table ronde" in t:
        return "panel"
    if "workshop" in t or "atelier" in t:
        return "workshop"
    return "plenary"


def from_frab(data: dict[str, Any]) -> ProgramFile:
    """Map a pretalx/frab `schedule.json` onto the program model.

    frab carries one title per talk in the talk's language and no speaker
    countries; those stay empty until edited in the TOML.
    """
    conf = data["schedule"]["conference"]
    tz = conf.get("time_zone_name") or "UTC"
    default_lang = "en"
    speakers: dict[str, SpeakerIn] = {}
    sessions: list[SessionIn] = []
    for day in conf.get("days", []):
        for room, talks in day.get("rooms", {}).items():
            for talk in talks:
                lang = talk.get("language") if talk.get("language") in LANGUAGES else default_lang
                starts = dt.datetime.fromisoformat(talk["date"])
                hours, minutes = (int(x) for x in talk["duration"].split(":")[:2])
                person_ids = []
                for person in talk.get("persons", []):
                    pid = _slug(str(person.get("code") or person.get("id")))
                    speakers.setdefault(
                        pid,
                        SpeakerIn(id=pid, name=person.get("public_name") or person["name"]),
                    )
                    person_ids.append(pid)
                sessions.append(
                    SessionIn(
                        id=_slug(talk.get("slug") or str(talk["id"])),
                        kind=_kind(talk.get("type") or ""),
                        title={lang: talk["title"]},
                        description={lang: talk["abstract"]} if talk.get("abstract") else {},
                        room=room,
                        starts=starts,
                        ends=starts + dt.timedelta(hours=hours, minutes=minutes),
                        speakers=person_ids,
                    )
                )
    return ProgramFile(
        event=EventIn(
            id=_slug(conf.get("acronym") or conf["title"]),
            name={default_lang: conf["title"]},
            timezone=tz,
        ),
        speakers=list(speakers.values()),
        sessions=sessions,
    )


def _aware(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


async def store_program(s: AsyncSession, program: ProgramFile) -> None:
    """Upsert the event, its speakers and sessions; grants and registrations stay."""
    tz = ZoneInfo(program.event.timezone)
    await s.merge(Event(**program.event.model_dump()))
    for sp in program.speakers:
        await s.merge(Speaker(**sp.model_dump()))
    await s.flush()
    for sess in program.sessions:
        row = await s.get(Session, sess.id)
        fields = dict(
            event_id=program.event.id,
            kind=sess.kind,
            title=sess.title,
            description=sess.description,
            room=sess.room,
            starts_at=_aware(sess.starts, tz),
            ends_at=_aware(sess.ends, tz),
        )
        if row is None:
            row = Session(id=sess.id, **fields)
            s.add(row)
        else:
            for k, v in fields.items():
                setattr(row, k, v)
        await s.flush()
        await s.execute(delete(SessionSpeaker).where(SessionSpeaker.session_id == sess.id))
        for pos, sp_id in enumerate(sess.speakers):
            s.add(SessionSpeaker(session_id=sess.id, speaker_id=sp_id, position=pos))
    await s.flush()


async def program_is_empty(s: AsyncSession) -> bool:
    return (await s.scalar(select(Event.id).limit(1))) is None


async def session_ids(s: AsyncSession) -> list[str]:
    """Every session's id, in program order."""
    return list(await s.scalars(select(Session.id).order_by(Session.starts_at, Session.id)))


async def program_json(s: AsyncSession, live: set[str]) -> dict[str, Any]:
    event = await s.scalar(select(Event).limit(1))
    if event is None:
        return {"event": None, "sessions": []}
    tz = ZoneInfo(event.timezone)
    sessions = list(await s.scalars(select(Session).order_by(Session.starts_at, Session.id)))
    days = sorted({x.starts_at.astimezone(tz).date().isoformat() for x in sessions})
    return {
        "event": {
            "id": event.id,
            "name": event.name,
            "description": event.description,
            "timezone": event.timezone,
            "venue": event.venue,
            "days": days,
        },
        "sessions": [session_json(x, tz, x.id in live) for x in sessions],
    }


def session_json(x: Session, tz: ZoneInfo, live: bool) -> dict[str, Any]:
    start = x.starts_at.astimezone(tz)
    return {
        "id": x.id,
        "kind": x.kind,
        "title": x.title,
        "description": x.description,
        "room": x.room,
        "day": start.date().isoformat(),
        "starts_at": start.isoformat(),
        "ends_at": x.ends_at.astimezone(tz).isoformat(),
        "timezone": tz.key,
        "state": x.state,
        "live": live,
        "speakers": [
            {
                "id": link.speaker.id,
                "name": link.speaker.name,
                "country": link.speaker.country,
                "affiliation": link.speaker.affiliation,
            }
            for link in x.speakers
        ],
    }
