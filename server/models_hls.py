"""Durable figures for HLS and replays: who watched how long, in which mode,
which replays are published, and unique visitors per day.

`WatchTime` is one row per (session, participant, mode): the seconds
accumulated from the player's beats (`POST /api/sessions/{id}/watch`).
`SiteVisitors` keeps only a count per day: the day's salted hashes live in
the short-lived store and die with the day's salt (server/visitors.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base, utcnow

MODES = ("webrtc", "hls", "replay")


class Replay(Base):
    """An organizer's word on a session's replay; no row: `hls.replay_published`."""

    __tablename__ = "replay"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), primary_key=True
    )
    published: Mapped[bool]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WatchTime(Base):
    __tablename__ = "watch_time"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)  # MODES
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SiteVisitors(Base):
    __tablename__ = "site_visitors"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    visitors: Mapped[int] = mapped_column(Integer, default=0)
