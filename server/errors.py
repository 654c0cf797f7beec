"""One error shape for every HTTP endpoint: JSON with a machine-readable code.

    {"error": {"code": "invalid", "message": "...", "fields": {"email": "..."}}}
"""

from __future__ import annotations

import json
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
    invalid_fields,
)

__all__ = ["BadRequest", "Conflict", "Failure", "Forbidden", "Invalid", "NotFound",
           "RateLimited", "TooLarge", "Unauthorized", "Unavailable", "UnsupportedMediaType",
           "invalid_fields"]


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if fields:
        err["fields"] = fields
    return {"error": err}


class ApiError(web.HTTPException):
    """An aiohttp HTTP exception whose body is the JSON error shape.

    Raise it anywhere in a handler; aiohttp turns it into the response.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps(error_body(code, message, fields)),
            content_type="application/json",
            headers=headers,
        )
        self.code = code
        self.message = message


def bad_request(code: str, message: str, fields: dict[str, str] | None = None) -> ApiError:
    return ApiError(400, code, message, fields)


def unauthorized(message: str = "a valid token is required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "your role does not allow this") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")
