"""Free registration: a participant, their consent, and a personal access link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.countries import COUNTRIES
from server.db import Database
from server.errors import Conflict, invalid_fields
from server.grants import issue
from server.models import Participant, Session, utcnow
from server.roles import Role
from server.text import BadText, clean


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    email: EmailStr = Field(max_length=254)
    country: str
    organisation: str = Field("", max_length=200)
    language: Literal["fr", "ar", "en"]
    consent: StrictBool
    # The session the participant wants to land on after registering.
    session: str | None = Field(None, max_length=64)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        v = v.upper()
        if v not in COUNTRIES:
            raise ValueError("use an ISO 3166-1 alpha-2 country code, e.g. MA, FR")
        return v

    @field_validator("consent")
    @classmethod
    def _consent(cls, v: bool) -> bool:
        if v is not True:
            raise ValueError("consent is required to register")
        return v

    @field_validator("name", "organisation")
    @classmethod
    def _text(cls, v: str, info: ValidationInfo) -> str:
        if not v and info.field_name == "organisation":
            return v
        try:
            return clean(v)
        except BadText as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Registered:
    participant_id: int
    token: str | None  # None when the address was already registered
    session: str | None


async def register(db: Database, data: RegistrationIn) -> Registered:
    """Create the participant and their token, or find the existing one.

    For an address that is already registered a *new* token is issued but not
    returned (only mailed): the existing link is never handed to whoever asks.
    """
    email = data.email.lower()
    async with db.transaction() as s:
        if data.session is not None and await s.get(Session, data.session) is None:
            raise invalid_fields({"session": "no such session"})
        existing = await s.scalar(select(Participant).where(Participant.email == email))
        if existing is not None:
            return Registered(existing.id, None, data.session)
        participant = Participant(
            name=data.name,
            email=email,
            country=data.country,
            organisation=data.organisation,
            language=data.language,
            consent_at=utcnow(),
        )
        s.add(participant)
        try:
            await s.flush()
        except IntegrityError:
            # Two concurrent registrations of one address: the other one won.
            raise DuplicateRace("already_registered") from None
        issued = await issue(s, Role.participant, participant_id=participant.id, label=data.name)
        return Registered(participant.id, issued.token, data.session)


class DuplicateRace(Conflict):
    """Two registrations of one address at once: the other one won (the handler
    answers already_registered, as for any repeated address)."""


async def reissue(db: Database, participant_id: int) -> tuple[str, Participant]:
    """A fresh personal token for a participant, to be mailed to them only."""
    async with db.transaction() as s:
        participant = await s.get(Participant, participant_id)
        assert participant is not None
        issued = await issue(
            s, Role.participant, participant_id=participant_id, label=participant.name
        )
        return issued.token, participant


def access_url(base: str, token: str, session: str | None) -> str:
    # The token travels in the fragment: browsers never send it to the server
    # or in a Referer, so it stays out of access logs and proxies.
    suffix = f"&session={session}" if session else ""
    return f"{base}/join#token={token}{suffix}"
