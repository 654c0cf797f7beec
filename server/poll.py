"""Polls per session: prepare, open, vote once (changeable while open), reveal, close.

Who runs a session's polls: its moderators, its speaker, the organizer. A poll
is a question with 2–6 options, single or multiple choice, optionally
anonymous. States: draft (seen by those who run polls only) → open (everyone
sees it and may vote) → closed (no more votes). Results go to those who run
polls live, and to everyone once revealed (before or after closing).

One ballot per identity: the (poll, voter) primary key, upserted; changing the
vote rewrites the row. Every vote bumps the poll's `version` with an UPDATE
that also checks the poll is open, so a vote racing a close either lands
before it or is refused, and results carry the version they were read at.
Anonymous polls: see server/models_poll.py (salted voter, salt erased on close).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import InteractionSettings
from server.db import Database
from server.errors import Forbidden, Invalid, NotFound, RateLimited
from server.interaction import Refused, iso, load_session
from server.models import utcnow
from server.models_poll import Poll, PollBallot
from server.moderation import check_can_write
from server.roles import Principal, Role
from server.shared import SharedState
from server.text import BadText, clean

MIN_OPTIONS, MAX_OPTIONS = 2, 6


def can_run(principal: Principal, session_id: str) -> bool:
    """Moderators of the session (or event-wide), its speaker, the organizer."""
    if principal.can_moderate(session_id):
        return True
    return principal.role is Role.speaker and principal.session_id == session_id


@dataclass(frozen=True)
class Results:
    version: int
    voters: int
    counts: list[int]


@dataclass(frozen=True)
class Change:
    """A poll after a change: `full` (with results) for those who run polls,
    `public` for everyone else (None: a draft, not shown to them)."""

    session_id: str
    full: dict[str, Any]
    public: dict[str, Any] | None


def view(p: Poll, results: Results | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id, "session": p.session_id, "question": p.question,
        "options": list(p.options), "multiple": p.multiple, "anonymous": p.anonymous,
        "state": p.state, "revealed": p.revealed, "version": p.version,
        "opened_at": iso(p.opened_at), "closed_at": iso(p.closed_at),
    }
    if results is not None:
        out["results"] = {"voters": results.voters, "counts": results.counts}
    return out


def results_view(p: Poll, r: Results) -> dict[str, Any]:
    return {"poll": p.id, "session": p.session_id, "version": r.version,
            "voters": r.voters, "counts": r.counts}


async def _change(s: AsyncSession, p: Poll) -> Change:
    r = await results(s, p)
    public = None if p.state == "draft" else view(p, r if p.revealed else None)
    return Change(p.session_id, view(p, r), public)


async def results(s: AsyncSession, p: Poll) -> Results:
    """Voters and per-option counts, read in one statement with the version."""
    b = PollBallot
    counts = [
        select(func.coalesce(func.sum(case((b.choices.op("&")(1 << i) != 0, 1), else_=0)), 0))
        .where(b.poll_id == Poll.id).scalar_subquery()
        for i in range(len(p.options))
    ]
    voters = select(func.count()).where(b.poll_id == Poll.id).scalar_subquery()
    row = (await s.execute(select(Poll.version, voters, *counts).where(Poll.id == p.id))).one()
    return Results(int(row[0]), int(row[1]), [int(c) for c in row[2:]])


async def _managed(s: AsyncSession, principal: Principal, poll_id: int) -> Poll:
    p = await s.get(Poll, poll_id)
    if p is None:
        raise NotFound("not_found")
    if not can_run(principal, p.session_id):
        raise Forbidden("forbidden")
    return p


async def _limit(shared: SharedState, cfg: InteractionSettings, principal: Principal) -> None:
    if not await shared.hit(f"poll:{principal.key}", cfg.poll_rate, cfg.poll_rate_window):
        raise RateLimited("rate_limited")


async def create(
    db: Database, shared: SharedState, cfg: InteractionSettings, principal: Principal,
    session_id: str, question: str, options: list[str], multiple: bool, anonymous: bool,
) -> Change:
    # The same text rule as chat and names (server/text.py): everyone sees
    # these, so no control characters, no bidi overrides, nothing invisible.
    try:
        question = clean(question, multiline=True)
    except BadText as exc:
        raise Refused(exc.code, str(exc)) from None
    if len(question) > cfg.poll_max_chars:
        raise Refused("too_long", max=cfg.poll_max_chars)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise Invalid("options", min=MIN_OPTIONS, max=MAX_OPTIONS)
    cleaned = []
    for i, o in enumerate(options):
        try:
            cleaned.append(clean(o))
        except BadText as exc:
            # One code for "an option is wrong"; which one and why in the detail.
            raise Invalid("options", str(exc), option=i, reason=exc.code) from None
    options = cleaned
    if any(len(o) > cfg.poll_option_chars for o in options):
        raise Invalid("options", max_chars=cfg.poll_option_chars)
    if not can_run(principal, session_id):
        raise Forbidden("forbidden")
    await _limit(shared, cfg, principal)
    async with db.transaction() as s:
        await load_session(s, session_id)
        p = Poll(session_id=session_id, question=question, options=options,
                 multiple=multiple, anonymous=anonymous, state="draft", revealed=False,
                 version=0, created_by=principal.key)
        s.add(p)
        await s.flush()
        return await _change(s, p)


async def remove(db: Database, shared: SharedState, cfg: InteractionSettings,
                 principal: Principal, poll_id: int) -> Change:
    """Delete a draft (polls that were open stay, for the report)."""
    await _limit(shared, cfg, principal)
    async with db.transaction() as s:
        p = await _managed(s, principal, poll_id)
        if p.state != "draft":
            raise Refused("not_draft")
        change = await _change(s, p)
        await s.delete(p)
        return Change(p.session_id, {**change.full, "state": "deleted"}, None)


async def transition(db: Database, shared: SharedState, cfg: InteractionSettings,
                     principal: Principal, poll_id: int, action: str) -> list[Change]:
    """open (closing the session's open poll, if any), reveal, close."""
    await _limit(shared, cfg, principal)
    async with db.transaction() as s:
        p = await _managed(s, principal, poll_id)
        changed = [p]
        now = utcnow()
        if action == "open":
            if p.state != "draft":
                raise Refused("not_draft")
            others = await s.scalars(select(Poll).where(
                Poll.session_id == p.session_id, Poll.state == "open", Poll.id != p.id))
            for other in others:
                _close(other, now)
                changed.append(other)
            p.state, p.opened_at = "open", now
            if p.anonymous:
                p.salt = secrets.token_hex(32)
        elif action == "reveal":
            if p.state == "draft":
                raise Refused("not_open")
            p.revealed = True
        elif action == "close":
            if p.state != "open":
                raise Refused("not_open")
            _close(p, now)
        else:  # the handler's Literal keeps other words out
            raise Refused("invalid")
        for c in changed:
            c.version += 1
        await s.flush()
        return [await _change(s, c) for c in changed]


def _close(p: Poll, now: Any) -> None:
    p.state, p.closed_at, p.salt = "closed", now, None


def check_choices(p: Poll, choices: list[int]) -> int:
    """The ballot as a bit mask; refuses out-of-range, repeated or too many options."""
    if not choices or len(set(choices)) != len(choices):
        raise Invalid("invalid_choice")
    if any(not 0 <= c < len(p.options) for c in choices):
        raise Invalid("invalid_choice", options=len(p.options))
    if not p.multiple and len(choices) > 1:
        raise Invalid("single_choice")
    return sum(1 << c for c in choices)


def voter_of(p: Poll, principal: Principal) -> str | None:
    if not p.anonymous:
        return principal.key
    if p.salt is None:
        return None
    return hmac.new(p.salt.encode(), principal.key.encode(), hashlib.sha256).hexdigest()


async def vote(
    db: Database, shared: SharedState, cfg: InteractionSettings, principal: Principal,
    poll_id: int, choices: list[int], joined: Callable[[str], bool],
) -> dict[str, Any]:
    """`joined(session_id)`: whether the caller's connection is in the session."""
    if not await shared.hit(f"pollvote:{principal.key}", cfg.poll_vote_rate,
                          cfg.poll_vote_rate_window):
        raise RateLimited("rate_limited")
    async with db.transaction() as s:
        p = await s.get(Poll, poll_id)
        if p is None or p.state == "draft":
            raise NotFound("not_found")
        if not joined(p.session_id):
            raise Refused("not_joined")
        if p.state != "open":
            raise Refused("poll_closed")
        mask = check_choices(p, choices)
        await check_can_write(s, principal, p.session_id)
        # The row lock this takes serialises a poll's votes against its close.
        bumped = await s.execute(update(Poll)
                                 .where(Poll.id == poll_id, Poll.state == "open")
                                 .values(version=Poll.version + 1))
        voter = voter_of(p, principal)
        if getattr(bumped, "rowcount", 0) != 1 or voter is None:
            raise Refused("poll_closed")
        ins = _insert(s)(PollBallot).values(
            poll_id=poll_id, voter=voter, choices=mask, updated_at=utcnow(),
            voter_name=None if p.anonymous else principal.name)
        await s.execute(ins.on_conflict_do_update(
            index_elements=["poll_id", "voter"],
            set_={"choices": ins.excluded.choices, "updated_at": ins.excluded.updated_at}))
        return {"poll": poll_id, "session": p.session_id, "choices": sorted(choices)}


def _insert(s: AsyncSession) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


async def current(db: Database, poll_id: int) -> tuple[Poll, Results] | None:
    async with db.session() as s:
        p = await s.get(Poll, poll_id)
        if p is None:
            return None
        return p, await results(s, p)


def choices_of(mask: int) -> list[int]:
    return [i for i in range(MAX_OPTIONS) if mask & (1 << i)]


async def visible(db: Database, principal: Principal, session_id: str) -> dict[str, Any]:
    """The session's polls as the caller may see them, and the caller's ballots."""
    runs = can_run(principal, session_id)
    async with db.session() as s:
        await load_session(s, session_id)
        rows = list(await s.scalars(select(Poll).where(Poll.session_id == session_id)
                                    .order_by(Poll.id)))
        polls, mine = [], {}
        for p in rows:
            if p.state == "draft" and not runs:
                continue
            show = runs or p.revealed
            polls.append(view(p, await results(s, p) if show else None))
            voter = voter_of(p, principal)
            if voter is not None and p.state != "draft":
                mask = await s.scalar(select(PollBallot.choices).where(
                    PollBallot.poll_id == p.id, PollBallot.voter == voter))
                if mask is not None:
                    mine[str(p.id)] = choices_of(mask)
    return {"session": session_id, "polls": polls, "mine": mine, "runs": runs}


async def ballots(db: Database, principal: Principal, poll_id: int) -> dict[str, Any]:
    """Who voted what, for a poll that is not anonymous (those who run polls)."""
    async with db.session() as s:
        p = await _managed(s, principal, poll_id)
        if p.anonymous:
            raise Refused("anonymous")
        rows = (await s.execute(select(PollBallot.voter, PollBallot.voter_name,
                                       PollBallot.choices)
                                .where(PollBallot.poll_id == poll_id)
                                .order_by(PollBallot.updated_at))).all()
    return {"poll": poll_id, "ballots": [{"user": v, "name": n, "choices": choices_of(c)}
                                         for v, n, c in rows]}


async def report_rows(s: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    """Every poll that was opened, per session, with its final counts."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = await s.scalars(select(Poll).where(Poll.state != "draft")
                           .order_by(Poll.session_id, Poll.id))
    for p in rows:
        r = await results(s, p)
        out.setdefault(p.session_id, []).append({
            "id": p.id, "question": p.question, "multiple": p.multiple,
            "anonymous": p.anonymous, "state": p.state, "voters": r.voters,
            "options": [{"text": o, "votes": c} for o, c in zip(p.options, r.counts,
                                                                 strict=True)],
        })
    return out


__all__ = ["Change", "Poll", "Results", "ballots", "can_run", "check_choices", "create",
           "current", "remove", "report_rows", "results", "transition", "visible", "vote"]
