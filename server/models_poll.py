"""The durable side of polls and reactions.

A ballot is one row per (poll, voter): the primary key is what makes a vote
count once, whichever tab or process it comes from; changing a vote rewrites
the row. For an anonymous poll the voter column holds an HMAC of the identity
under a per-poll salt (never the identity), and the salt is erased when the
poll closes: from then on not even the database links a ballot to a person.

Reactions keep only their totals per session (for the report).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base, utcnow


class Poll(Base):
    __tablename__ = "poll"
    __table_args__ = (Index("ix_poll_session_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # draft → open → closed (server/poll.py)
    state: Mapped[str] = mapped_column(String(8), default="draft")
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped with every change (votes included) in the changing transaction, so
    # clients keep the newest results whatever order they arrive in.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Anonymous polls only, while they can take votes.
    salt: Mapped[str | None] = mapped_column(String(64), default=None)


class PollBallot(Base):
    __tablename__ = "poll_ballot"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True
    )
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    voter_name: Mapped[str | None] = mapped_column(String(200), default=None)
    # Bit i set: option i chosen.
    choices: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReactionTotal(Base):
    __tablename__ = "reaction_total"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), primary_key=True
    )
    reaction: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
