"""Resolving the caller of an HTTP request to a Principal."""

from __future__ import annotations

from aiohttp import web

from server.errors import Forbidden, Unauthorized
from server.keys import GRANTS
from server.roles import Principal


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def resolve_token(app: web.Application, token: str) -> Principal | None:
    return await app[GRANTS].resolve(token)


async def principal_from_bearer(request: web.Request) -> Principal:
    token = bearer(request)
    if token is None:
        raise Unauthorized("unauthorized", "send Authorization: Bearer <token>")
    principal = await resolve_token(request.app, token)
    if principal is None:
        raise Unauthorized("unauthorized", "unknown or revoked token")
    return principal


async def require_organizer(request: web.Request) -> Principal:
    principal = await principal_from_bearer(request)
    if not principal.is_organizer:
        raise Forbidden("forbidden", "organizers only")
    return principal
