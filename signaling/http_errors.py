"""The HTTP adapter's half of the error vocabulary: a `Failure` as a JSON answer.

    {"error": {"code": "invalid", "message": "...", "fields": {"email": "..."}}}

Used by the organizer/public API (server/api/common.py) and by the WHIP/WHEP
endpoints (signaling/whip.py), so both answer the same shape and status for
the same kind of failure. Nothing else chooses a status code.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from signaling.errors import (
    BadRequest,
    Conflict,
    Failure,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)

STATUS: dict[type[Failure], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    Invalid: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if fields:
        err["fields"] = fields
    return {"error": err}


def status_of(failure: Failure) -> int:
    for kind in type(failure).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def failure_response(failure: Failure) -> web.Response:
    headers: dict[str, str] = {}
    if isinstance(failure, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if failure.retry_after is not None:
        headers["Retry-After"] = str(failure.retry_after)
    return web.json_response(
        error_body(failure.code, failure.message, failure.fields),
        status=status_of(failure),
        headers=headers,
    )
