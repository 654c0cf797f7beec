"""Who listened to which interpretation channel, and for how long (the report's figures)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base, utcnow


class Listening(Base):
    """One viewer's stretch on one language channel.

    Opened when the server first sees the viewer hearing a live channel,
    `seen_at` advanced while it still does, `ended_at` set when it stops; a
    crashed process's rows end at their last `seen_at`.
    """

    __tablename__ = "listening"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    subject_key: Mapped[str] = mapped_column(String(32))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), default=None)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
