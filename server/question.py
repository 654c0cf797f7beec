"""Q&A per session: ask, vote once, moderate (approve, reject, answer, highlight).

Status: pending → approved → answered, or rejected. In a "moderated" session a
question starts pending (seen by moderators and its author only); in an "open"
one it starts approved. Anonymous questions: the author is stored (for
sanctions and abuse review) but never sent to anyone — not to participants,
speakers or moderators; moderators act on the author through the question id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import InteractionSettings
from server.db import Database
from server.errors import Forbidden, NotFound, RateLimited
from server.interaction import Refused, check_open_for_writing, iso, load_session
from server.models import utcnow
from server.models_interaction import Question, QuestionVote
from server.moderation import check_can_write
from server.roles import Principal
from server.shared import SharedState
from server.text import BadText, clean

PUBLIC = ("approved", "answered")
Action = Literal["approve", "reject", "answer", "highlight", "unhighlight"]


def view(q: Question) -> dict[str, Any]:
    """The one shape sent to everyone who may see the question."""
    return {
        "id": q.id,
        "session": q.session_id,
        "text": q.text,
        "author": None if q.anonymous else q.author_name,
        "anonymous": q.anonymous,
        "status": q.status,
        "highlighted": q.highlighted,
        "votes": q.votes,
        "at": iso(q.created_at),
        "answered_at": iso(q.answered_at),
    }


@dataclass(frozen=True)
class Change:
    """A question after a change, and who must hear of it."""

    question: dict[str, Any]
    author_key: str
    # Everyone in the session saw it before or sees it now; otherwise only the
    # moderators and the author.
    public: bool


async def ask(
    db: Database, shared: SharedState, cfg: InteractionSettings, principal: Principal,
    session_id: str, text: str, anonymous: bool,
) -> Change:
    try:
        text = clean(text, multiline=True)
    except BadText as exc:
        raise Refused(exc.code) from None
    if len(text) > cfg.question_max_chars:
        raise Refused("too_long", max=cfg.question_max_chars)
    if not await shared.hit(f"question:{principal.key}", cfg.question_rate,
                          cfg.question_rate_window):
        raise RateLimited("rate_limited")
    async with db.transaction() as s:
        session = await load_session(s, session_id)
        await check_can_write(s, principal, session_id)
        check_open_for_writing(session, principal)
        q = Question(
            session_id=session_id, author_key=principal.key, author_name=principal.name,
            anonymous=anonymous, text=text,
            status="approved" if session.qa_mode == "open" else "pending",
            highlighted=False, votes=0,
        )
        s.add(q)
        await s.flush()
        return Change(view(q), q.author_key, q.status in PUBLIC)


async def vote(
    db: Database, shared: SharedState, cfg: InteractionSettings, principal: Principal,
    question_id: int, up: bool,
) -> Change:
    """Vote or unvote; the (question, voter) primary key makes a vote count once,
    whichever tab or process it comes from."""
    if not await shared.hit(f"vote:{principal.key}", cfg.vote_rate, cfg.vote_rate_window):
        raise RateLimited("rate_limited")
    async with db.transaction() as s:
        q = await s.get(Question, question_id)
        if q is None or q.status not in PUBLIC:
            raise NotFound("not_found")
        await check_can_write(s, principal, q.session_id)
        if up:
            # INSERT … ON CONFLICT DO NOTHING: a second vote is a no-op, even when
            # two tabs race (both dialects spell it the same way).
            await s.execute(_insert(s)(QuestionVote).values(
                question_id=q.id, voter_key=principal.key, created_at=utcnow(),
            ).on_conflict_do_nothing())
        else:
            await s.execute(delete(QuestionVote).where(
                QuestionVote.question_id == q.id, QuestionVote.voter_key == principal.key))
        await _recount(s, q)
        return Change(view(q), q.author_key, True)


def _insert(s: AsyncSession) -> Any:
    if s.get_bind().dialect.name == "postgresql":
        return pg_insert
    return sqlite_insert


async def _recount(s: AsyncSession, q: Question) -> None:
    count = select(func.count()).where(QuestionVote.question_id == q.id).scalar_subquery()
    await s.execute(update(Question).where(Question.id == q.id).values(votes=count))
    await s.refresh(q)


async def moderate(
    db: Database, principal: Principal, question_id: int, action: Action
) -> list[Change]:
    """Apply a moderator's action; returns every question that changed (highlighting
    one question un-highlights the previous one)."""
    async with db.transaction() as s:
        q = await s.get(Question, question_id)
        if q is None:
            raise NotFound("not_found")
        if not principal.can_moderate(q.session_id):
            raise Forbidden("forbidden")
        was_public = q.status in PUBLIC
        changed: list[Question] = [q]
        if action == "approve":
            q.status = "approved"
        elif action == "reject":
            q.status, q.highlighted = "rejected", False
        elif action == "answer":
            q.status, q.highlighted, q.answered_at = "answered", False, utcnow()
        elif action == "unhighlight":
            q.highlighted = False
        elif action == "highlight":
            if q.status == "rejected":
                raise Refused("not_public")
            if q.status == "pending":
                q.status = "approved"  # highlighting a question shows it
            previous = await s.scalars(select(Question).where(
                Question.session_id == q.session_id, Question.highlighted.is_(True),
                Question.id != q.id))
            for other in previous:
                other.highlighted = False
                changed.append(other)
            q.highlighted = True
        await s.flush()
        return [
            Change(view(c), c.author_key, c.status in PUBLIC or (c is q and was_public))
            for c in changed
        ]


async def visible(db: Database, principal: Principal, session_id: str) -> dict[str, Any]:
    """What a caller sees on joining: questions (moderators also see pending ones,
    a participant their own pending ones), which are theirs and which they voted for."""
    moderator = principal.can_moderate(session_id)
    async with db.session() as s:
        q = select(Question).where(Question.session_id == session_id).order_by(Question.id)
        rows = (await s.scalars(q)).all()
        voted = set(
            await s.scalars(
                select(QuestionVote.question_id)
                .join(Question, Question.id == QuestionVote.question_id)
                .where(Question.session_id == session_id,
                       QuestionVote.voter_key == principal.key)
            )
        )
    shown = [
        r for r in rows
        if r.status in PUBLIC
        or (r.status == "pending" and (moderator or r.author_key == principal.key))
    ]
    return {
        "questions": [view(r) for r in shown],
        "mine": [r.id for r in shown if r.author_key == principal.key],
        "voted": sorted(voted),
    }
