"""The durable side of live interaction: chat messages, questions, votes,
sanctions (mute/ban) and attendance intervals.

Authors are recorded by `Principal.key` (stable across tabs and reconnects) and
the display name at the time of writing, so history reads without joins.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base, utcnow


class ChatMessage(Base):
    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_session_id_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    author_key: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Deleted messages are kept (moderation record) but never shown again.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Question(Base):
    __tablename__ = "question"
    __table_args__ = (Index("ix_question_session_id_status", "session_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    author_key: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    # pending → approved → answered, or rejected (see server/question.py)
    status: Mapped[str] = mapped_column(String(16))
    highlighted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Denormalised count of question_vote rows, rewritten in the same
    # transaction as every vote change; the rows are the truth.
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class QuestionVote(Base):
    """One row per (question, voter): the primary key is what makes a vote count once."""

    __tablename__ = "question_vote"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    )
    voter_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Sanction(Base):
    """A mute (may watch, may not write) or ban (may not join) of one identity,
    for one session or, with session_id NULL, the whole event."""

    __tablename__ = "sanction"
    __table_args__ = (Index("ix_sanction_subject_key", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # mute | ban
    subject_key: Mapped[str] = mapped_column(String(32))
    subject_name: Mapped[str] = mapped_column(String(200), default="")
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), default=None
    )
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Attendance(Base):
    """One connection's stay in a session. `seen_at` is advanced in batches by
    the process holding the connection, so a crashed process's open rows end
    where its last batch left them."""

    __tablename__ = "attendance"
    __table_args__ = (Index("ix_attendance_session_id_subject_key", "session_id", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    subject_key: Mapped[str] = mapped_column(String(32))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), default=None
    )
    name: Mapped[str] = mapped_column(String(200))
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(default=None)
