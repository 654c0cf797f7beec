"""Moderation: mute and ban (per session or event-wide), session settings.

Only participant identities (keys "p…") can be sanctioned: staff tokens are
revoked by the organizer instead (POST /api/tokens/revoke). A sanction names
its subject by a chat message, a question (so a moderator can act on the
author of an anonymous question without ever learning who it is) or the key
shown in the online list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import InteractionSettings
from server.db import Database
from server.errors import Forbidden, NotFound
from server.interaction import Refused, iso, load_session, session_settings
from server.models import Participant, Session, utcnow
from server.models_interaction import ChatMessage, Question, Sanction
from server.roles import Principal, Role
from server.shared import SharedState

SanctionAction = Literal["mute", "unmute", "ban", "unban"]
# subject_name of a sanction made through an anonymous question (registered
# names are never empty): listed without the key or the name.
ANONYMOUS = ""


@dataclass(frozen=True)
class Target:
    message: int | None = None
    question: int | None = None
    user: str | None = None
    # A sanction's id from the list: lifts an anonymous asker's sanction too.
    sanction: int | None = None


@dataclass(frozen=True)
class SanctionChange:
    kind: str  # mute | ban
    active: bool
    subject_key: str
    subject_name: str
    session_id: str | None
    # Named through an anonymous question: the moderator must not learn who.
    anonymous: bool = False

    def public(self) -> dict[str, Any]:
        """What the moderator is told (never who an anonymous asker is)."""
        who: dict[str, Any] = ({"user": None, "name": None, "anonymous": True}
                               if self.anonymous else
                               {"user": self.subject_key, "name": self.subject_name})
        return {**who, "kind": self.kind, "active": self.active, "session": self.session_id}


async def active_sanctions(db: Database, key: str, session_id: str | None) -> set[str]:
    """The kinds ("mute", "ban") in force for `key` in a session (or event-wide only)."""
    async with db.session() as s:
        return await sanctions_in(s, key, session_id)


async def sanctions_in(s: AsyncSession, key: str, session_id: str | None) -> set[str]:
    rows = await s.scalars(
        select(Sanction.kind).where(
            Sanction.subject_key == key,
            Sanction.lifted_at.is_(None),
            or_(Sanction.session_id.is_(None), Sanction.session_id == session_id),
        )
    )
    return set(rows)


async def check_can_write(s: AsyncSession, principal: Principal, session_id: str) -> None:
    """Inside the caller's transaction: one round trip fewer per message."""
    kinds = await sanctions_in(s, principal.key, session_id)
    if "ban" in kinds:
        raise Refused("banned")
    if "mute" in kinds:
        raise Refused("muted")


def _check_may_moderate(principal: Principal, session_id: str | None) -> None:
    if session_id is None:
        # Event-wide power: the organizer, or a moderator bound to no session.
        if not (principal.is_organizer
                or (principal.role is Role.moderator and principal.session_id is None)):
            raise Forbidden("forbidden")
    elif not principal.can_moderate(session_id):
        raise Forbidden("forbidden")


async def sanction(
    db: Database, principal: Principal, session_id: str | None, action: SanctionAction,
    target: Target,
) -> SanctionChange:
    _check_may_moderate(principal, session_id)
    kind = action.removeprefix("un")
    async with db.transaction() as s:
        if session_id is not None:
            await load_session(s, session_id)
        key, name, anonymous = await _subject(s, target, session_id)
        if not key.startswith("p"):
            raise Refused("not_sanctionable")
        # An anonymous asker's sanction is stored without a name (ANONYMOUS),
        # and listed without the key: that is how the list keeps it secret.
        stored_name = ANONYMOUS if anonymous else name
        current = (
            await s.scalars(
                select(Sanction).where(
                    Sanction.subject_key == key, Sanction.kind == kind,
                    Sanction.lifted_at.is_(None),
                    (Sanction.subject_name == ANONYMOUS) if anonymous
                    else (Sanction.subject_name != ANONYMOUS),
                    Sanction.session_id.is_(None) if session_id is None
                    else Sanction.session_id == session_id,
                )
            )
        ).all()
        if action.startswith("un"):
            for row in current:
                row.lifted_at = utcnow()
        elif not current:
            s.add(Sanction(kind=kind, subject_key=key, subject_name=stored_name,
                           session_id=session_id, created_by=principal.key))
    return SanctionChange(kind, not action.startswith("un"), key, name, session_id, anonymous)


async def _subject(s: Any, target: Target, session_id: str | None) -> tuple[str, str, bool]:
    """(key, name, anonymous) of whom a sanction names."""
    row: ChatMessage | Question | None = None
    if target.message is not None:
        row = await s.get(ChatMessage, target.message)
    elif target.question is not None:
        row = await s.get(Question, target.question)
    elif target.sanction is not None:
        found = await s.get(Sanction, target.sanction)
        if found is None or (session_id is not None and found.session_id not in
                             (None, session_id)):
            raise Refused("not_found")
        return found.subject_key, found.subject_name, found.subject_name == ANONYMOUS
    elif target.user is not None:
        # A key from the online list: name it from the registration when it is one.
        pid = target.user[1:]
        person = await s.get(Participant, int(pid)) if target.user[:1] == "p" and pid.isdigit() \
            else None
        if person is None:
            raise NotFound("not_found")
        return target.user, person.name, False
    if row is None or (session_id is not None and row.session_id != session_id):
        raise NotFound("not_found")
    return row.author_key, row.author_name, bool(getattr(row, "anonymous", False))


async def list_sanctions(
    db: Database, principal: Principal, session_id: str | None
) -> list[dict[str, Any]]:
    """Sanctions in force for a session (and event-wide ones), for unmute/unban."""
    _check_may_moderate(principal, session_id)
    async with db.session() as s:
        q = select(Sanction).where(Sanction.lifted_at.is_(None)).order_by(Sanction.id)
        if session_id is not None:
            q = q.where(or_(Sanction.session_id.is_(None), Sanction.session_id == session_id))
        rows = await s.scalars(q)
        return [
            {"id": r.id, "kind": r.kind, "session": r.session_id, "at": iso(r.created_at),
             **({"user": None, "name": None, "anonymous": True} if r.subject_name == ANONYMOUS
                else {"user": r.subject_key, "name": r.subject_name})}
            for r in rows
        ]


async def banned_connections(db: Database, shared: SharedState, change: SanctionChange) -> set[str]:
    """The connections (Socket.IO sids, from the shared presence store, so in
    every process) a ban removes: in its session, or in every session."""
    if change.session_id is not None:
        sessions = [change.session_id]
    else:
        async with db.session() as s:
            sessions = list(await s.scalars(select(Session.id)))
    conns: set[str] = set()
    for session_id in sessions:
        conns.update(await shared.presence_conns(session_id, change.subject_key))
    return conns


async def update_session(
    db: Database, principal: Principal, session_id: str, state: str | None,
    qa_mode: str | None, slow_mode: int | None,
    *, max_slow_mode: int = InteractionSettings().max_slow_mode,
) -> dict[str, Any]:
    """Open or close a session, switch Q&A mode, set slow mode; returns the settings.

    A slow mode longer than `max_slow_mode` (settings.interaction) is cut to it.
    """
    _check_may_moderate(principal, session_id)
    if slow_mode is not None:
        slow_mode = min(slow_mode, max_slow_mode)
    async with db.transaction() as s:
        row = await load_session(s, session_id)
        if state is not None:
            row.state = state
        if qa_mode is not None:
            row.qa_mode = qa_mode
        if slow_mode is not None:
            row.slow_mode = slow_mode
        return session_settings(row)
