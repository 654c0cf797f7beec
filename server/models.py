"""The durable model: program, registrations and the tokens that grant roles.

Times are stored in UTC; the event's time zone is kept on the event and used
only for display.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: UTCDateTime}


class Event(Base):
    __tablename__ = "event"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict[str, Any]]  # {"fr": ..., "en": ..., "ar": ...}
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str] = mapped_column(String(200), default="")


class Speaker(Base):
    __tablename__ = "speaker"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    affiliation: Mapped[str] = mapped_column(String(200), default="")


class Session(Base):
    """A programme slot: plenary, panel or workshop, with its own stage, chat and Q&A."""

    __tablename__ = "session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # plenary | panel | workshop
    title: Mapped[dict[str, Any]]
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    room: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # scheduled → open → closed; moderators open and close a session.
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Live interaction (server/question.py, server/chat.py, server/presence.py):
    # "moderated" Q&A shows a question once a moderator approves it, "open" at once;
    # slow mode is the seconds a participant waits between chat messages (0 = off).
    qa_mode: Mapped[str] = mapped_column(String(16), default="moderated")
    slow_mode: Mapped[int] = mapped_column(Integer, default=0)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    speakers: Mapped[list[SessionSpeaker]] = relationship(
        order_by="SessionSpeaker.position", cascade="all, delete-orphan", lazy="selectin"
    )


class SessionSpeaker(Base):
    __tablename__ = "session_speaker"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), primary_key=True
    )
    speaker_id: Mapped[str] = mapped_column(
        ForeignKey("speaker.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    speaker: Mapped[Speaker] = relationship(lazy="joined")


class Participant(Base):
    """A registered remote participant (free registration, explicit consent)."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    # Stored lower-cased: one registration per address.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2))
    consent_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Grant(Base):
    """A token and the role it grants. Only the token's SHA-256 is stored."""

    __tablename__ = "grant"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), default=None
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), default=None
    )
    label: Mapped[str] = mapped_column(Text, default="")
    # Interpreters only: the language of the channel they feed (fr, ar, en).
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
