"""Who a caller is and what they may do.

Every HTTP endpoint, Socket.IO event and media request resolves its caller to a
`Principal` and asks it; the browser is never trusted to enforce a role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    participant = "participant"
    speaker = "speaker"
    moderator = "moderator"
    interpreter = "interpreter"
    organizer = "organizer"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    # The token row this principal came from (None for the organizer credential,
    # which lives in the environment, not the database).
    token_id: int | None
    name: str
    # Speakers are bound to one session; moderators to one session or, with
    # None, to the whole event.
    session_id: str | None = None
    participant_id: int | None = None
    # Interpreters: the language of the channel they feed on `session_id`.
    language: str | None = None

    @property
    def key(self) -> str:
        """A stable identity across tabs and reconnects (presence, votes, bans)."""
        if self.participant_id is not None:
            return f"p{self.participant_id}"
        if self.token_id is not None:
            return f"t{self.token_id}"
        return "organizer"

    # Watching needs no method: every valid token may watch every session (a
    # speaker or moderator bound to another session is still a member of the event).

    def can_publish(self, session_id: str) -> bool:
        if self.role is Role.organizer:
            return True
        return self.role is Role.speaker and self.session_id == session_id

    def can_moderate(self, session_id: str) -> bool:
        if self.role is Role.organizer:
            return True
        return self.role is Role.moderator and self.session_id in (None, session_id)

    @property
    def is_organizer(self) -> bool:
        return self.role is Role.organizer
