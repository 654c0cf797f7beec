"""What chat, question, presence and moderation share: refusals and the session guard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict, NotFound
from server.models import Session
from server.roles import Principal


class Refused(Conflict):
    """A rule of the session refuses this now (muted, closed, slow mode, ...).

    `Refused(code, **detail)`: the code and the detail reach the client in the
    error acknowledgement (server/realtime/common.py).
    """


async def load_session(s: AsyncSession, session_id: str) -> Session:
    row = await s.get(Session, session_id)
    if row is None:
        raise NotFound("no_session")
    return row


def check_open_for_writing(session: Session, principal: Principal) -> None:
    """A closed session is read-only for everyone but its moderators."""
    if session.state == "closed" and not principal.can_moderate(session.id):
        raise Refused("session_closed")


def session_settings(session: Session) -> dict[str, Any]:
    return {
        "session": session.id,
        "state": session.state,
        "qa_mode": session.qa_mode,
        "slow_mode": session.slow_mode,
    }


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None
