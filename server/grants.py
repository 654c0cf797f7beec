"""Tokens that grant roles: issue, resolve, revoke.

A token is 192 random bits (url-safe base64). Only its SHA-256 is stored: the
tokens are high-entropy, so a fast hash is enough and a leaked database hands
out no working links. The organizer credential lives in the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database
from server.errors import invalid_fields
from server.interpretation import check_interpreter
from server.models import Grant, Participant, Session, utcnow
from server.roles import Principal, Role

INVITED = (Role.speaker, Role.moderator, Role.interpreter)
TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 128


def new_token() -> str:
    # Never with a leading '-': `halqa revoke <token>` (argparse, any shell
    # command) would read it as an option (1 token in 64 could not be revoked
    # from the command line; a CI run met one).
    while (token := secrets.token_urlsafe(TOKEN_BYTES)).startswith("-"):
        pass
    return token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Revoked:
    grant_id: int
    key: str  # the identity it belonged to (Principal.key)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    grant_id: int


async def issue(
    s: AsyncSession,
    role: Role,
    *,
    session_id: str | None = None,
    participant_id: int | None = None,
    label: str = "",
    language: str | None = None,
) -> Issued:
    token = new_token()
    grant = Grant(
        token_hash=hash_token(token),
        role=role.value,
        session_id=session_id,
        participant_id=participant_id,
        label=label,
        language=language,
    )
    s.add(grant)
    await s.flush()
    return Issued(token, grant.id)


class Grants:
    """Resolves tokens to principals; the one place that knows the organizer secret."""

    def __init__(self, db: Database, organizer_token: str) -> None:
        self.db = db
        self._organizer_hash = hash_token(organizer_token)

    async def resolve(self, token: str | None) -> Principal | None:
        # Tokens are URL-safe base64: anything else (a lone surrogate cannot
        # even be encoded) is simply unknown.
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        h = hash_token(token)
        if hmac.compare_digest(h, self._organizer_hash):
            return Principal(Role.organizer, None, "Organizer")
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(Grant, Participant.name)
                    .outerjoin(Participant, Participant.id == Grant.participant_id)
                    .where(Grant.token_hash == h, Grant.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            return None
        grant, participant_name = row
        return Principal(
            role=Role(grant.role),
            token_id=grant.id,
            name=participant_name or grant.label or grant.role.capitalize(),
            session_id=grant.session_id,
            participant_id=grant.participant_id,
            language=grant.language,
        )

    async def invite(
        self, role: Role, session_id: str | None, label: str = "", language: str | None = None
    ) -> Issued:
        if role not in INVITED:
            raise invalid_fields({"role": "only speakers, moderators and interpreters are invited"})
        if role is Role.interpreter:
            check_interpreter(session_id, language)
        elif language is not None:
            raise invalid_fields({"language": "only interpreters are bound to a language"})
        async with self.db.transaction() as s:
            if session_id is None:
                if role is Role.speaker:
                    raise invalid_fields({"session": "a speaker is invited to one session"})
            elif await s.get(Session, session_id) is None:
                raise invalid_fields({"session": f"no session {session_id!r}"})
            return await issue(s, role, session_id=session_id, label=label, language=language)

    async def revoke(self, token: str) -> Revoked | None:
        """Revoke by token; what was revoked, if a live grant was."""
        if not token.isascii():
            return None
        return await self._revoke(Grant.token_hash == hash_token(token))

    async def revoke_id(self, grant_id: int) -> Revoked | None:
        return await self._revoke(Grant.id == grant_id)

    async def _revoke(self, where: ColumnElement[bool]) -> Revoked | None:
        async with self.db.transaction() as s:
            row = (await s.execute(
                select(Grant.id, Grant.participant_id)
                .where(where, Grant.revoked_at.is_(None)).with_for_update()
            )).first()
            if row is None:
                return None
            grant_id, participant_id = row
            await s.execute(update(Grant).where(Grant.id == grant_id).values(revoked_at=utcnow()))
            # The identity whose live media ends (Principal.key's rule).
            key = f"p{participant_id}" if participant_id is not None else f"t{grant_id}"
            return Revoked(grant_id, key)

    async def list_invites(self) -> list[Grant]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Grant)
                .where(Grant.role.in_([r.value for r in INVITED]))
                .order_by(Grant.id)
            )
            return list(rows)
