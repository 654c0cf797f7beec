"""Broadcast destinations and per-session broadcast options (durable: the organizer's setup)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base, utcnow


class Destination(Base):
    """An RTMP(S) ingest the program goes out to: one session's, or (session None) every one's.

    `stream_key` is a secret: the API never answers it and nothing logs it.
    """

    __tablename__ = "broadcast_destination"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    stream_key: Mapped[str] = mapped_column(Text)
    # The sound it carries: "floor", or an interpretation language (fr, ar, en).
    audio: Mapped[str] = mapped_column(String(8), default="floor", server_default="floor")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BroadcastOption(Base):
    """A session's broadcast switches; a session without a row has the defaults."""

    __tablename__ = "broadcast_option"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), primary_key=True
    )
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    record: Mapped[bool | None] = mapped_column(Boolean, default=None)  # None: the setting
