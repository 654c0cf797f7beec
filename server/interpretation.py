"""Simultaneous interpretation, the server's side: who may interpret, who listened.

The media side (channels, hand-over, what each viewer hears) is in
signaling/interpretation.py; here are the rules of the `interpreter` role
(bound to one session and one of the event's languages).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.db import Database
from server.errors import invalid_fields
from server.models import Participant
from server.roles import Principal, Role

# The event's languages: what participants register with and what interpreters feed.
LANGUAGES = ("fr", "ar", "en")


def check_interpreter(session_id: str | None, language: str | None) -> None:
    """An interpreter is invited to one session and one of the event's languages."""
    problems = {}
    if session_id is None:
        problems["session"] = "an interpreter is invited to one session"
    if language not in LANGUAGES:
        problems["language"] = f"one of {', '.join(LANGUAGES)}"
    if problems:
        raise invalid_fields(problems)


async def who_listens(db: Database, principal: Principal) -> dict[str, Any]:
    """What the watch page and the console need to know of the caller.

    `language`: a participant's registered language (the watch page's default
    channel), an interpreter's channel language; `session`: an interpreter's session.
    """
    language = principal.language
    if principal.participant_id is not None:
        async with db.session() as s:
            language = await s.scalar(
                select(Participant.language).where(Participant.id == principal.participant_id))
    return {"role": principal.role.value, "language": language,
            "session": principal.session_id if principal.role is Role.interpreter else None}
