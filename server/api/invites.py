"""Organizer-only: invite speakers and moderators, list and revoke tokens."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.api.common import json_response, read_json
from server.auth import require_organizer
from server.errors import not_found
from server.keys import GRANTS, SETTINGS
from server.revocation import Cut, cut
from server.roles import Role


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["speaker", "moderator", "interpreter"]
    # None invites an event-wide moderator.
    session: str | None = Field(None, max_length=64)
    label: str = Field("", max_length=200)
    # Interpreters only: the language they interpret into (fr, ar, en).
    language: str | None = Field(None, max_length=8)


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=256)


def invite_url(base: str, role: Role, session: str | None, token: str) -> str:
    page = {Role.speaker: "studio", Role.interpreter: "interpret"}.get(role, "moderate")
    path = f"/{page}/{session}" if session else f"/{page}"
    return f"{base}{path}#token={token}"


async def create_invite(request: web.Request) -> web.Response:
    await require_organizer(request)
    data = await read_json(request, InviteIn)
    role = Role(data.role)
    issued = await request.app[GRANTS].invite(role, data.session, data.label, data.language)
    url = invite_url(request.app[SETTINGS].base_url, role, data.session, issued.token)
    return json_response(
        {"id": issued.grant_id, "role": role.value, "session": data.session,
         "language": data.language, "token": issued.token, "url": url},
        status=201,
    )


async def list_invites(request: web.Request) -> web.Response:
    await require_organizer(request)
    grants = await request.app[GRANTS].list_invites()
    return json_response({
        "invites": [
            {
                "id": g.id,
                "role": g.role,
                "session": g.session_id,
                "language": g.language,
                "label": g.label,
                "created_at": g.created_at.isoformat(),
                "revoked_at": g.revoked_at.isoformat() if g.revoked_at else None,
            }
            for g in grants
        ]
    })


MAX_ID = 2**63 - 1  # the database's integer: larger ids cannot exist


def parse_id(text: str) -> int | None:
    """An id from a path: ASCII digits only (int() also reads "١٢" as 12)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


async def revoke_invite(request: web.Request) -> web.Response:
    await require_organizer(request)
    grant_id = parse_id(request.match_info["id"])
    if grant_id is None:
        raise not_found("invite")
    revoked = await request.app[GRANTS].revoke_id(grant_id)
    if revoked is None:
        raise not_found("live invite")
    await cut(request.app, Cut(revoked.key, grant=revoked.grant_id))
    return web.Response(status=204)


async def revoke_token(request: web.Request) -> web.Response:
    """Revoke any token (a participant's leaked link too) by its value."""
    await require_organizer(request)
    data = await read_json(request, RevokeIn)
    revoked = await request.app[GRANTS].revoke(data.token)
    if revoked is None:
        raise not_found("live token")
    # Media and connections end on every process (server/revocation.py).
    await cut(request.app, Cut(revoked.key, grant=revoked.grant_id))
    return web.Response(status=204)
