"""halqa's error vocabulary: what a request can fail with, in every layer.

Domain code (server/), media code (signaling/) and anything beside them raise
a `Failure` subclass naming *what* went wrong, with a machine-readable `code`,
a `message` for people and, for bad input, the offending `fields`. They never
pick an HTTP status or build an acknowledgement: only the adapters do, the
HTTP one (`signaling/http_errors.py`, used by server/api and the WHIP/WHEP
endpoints) and the Socket.IO one (server/realtime/common.py).

It lives in signaling/ because signaling is the leaf every other package may
import (server/ imports it; it imports nothing of theirs). Importing this
module loads nothing but the standard library.
"""

from __future__ import annotations

from typing import Any


class Failure(Exception):
    """A request halqa refuses. Subclasses say which kind of refusal it is.

    `detail` carries extra machine-readable facts for the client (e.g. the
    `seconds` left in slow mode); `retry_after` says when trying again makes
    sense (seconds).
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        fields: dict[str, str] | None = None,
        retry_after: int | None = None,
        **detail: Any,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.retry_after = retry_after
        self.detail = detail


class BadRequest(Failure):
    """The request cannot be read (bad JSON, a malformed SDP offer, ...)."""


class Invalid(Failure):
    """The request was read, but what it asks is invalid (fields, or a rule of the input)."""


def invalid_fields(fields: dict[str, str]) -> Invalid:
    """The one "some fields are invalid" error; `fields` maps each field to what is wrong."""
    return Invalid("invalid", "some fields are invalid", fields=fields)


class Unauthorized(Failure):
    """No credential, or one that is unknown or revoked."""


class Forbidden(Failure):
    """The caller is known, but their role does not allow this."""


class NotFound(Failure):
    """What the request names does not exist (or not any more)."""


class Conflict(Failure):
    """The request clashes with the current state (already registered, a stage full of speakers)."""


class TooLarge(Failure):
    """The body is larger than allowed."""


class UnsupportedMediaType(Failure):
    """The body is not of the content type the endpoint reads."""


class RateLimited(Failure):
    """Too many requests from this caller; `retry_after` says when to come back."""


class Unavailable(Failure):
    """halqa cannot serve this now (a stage at capacity, a backing service down)."""


__all__ = [
    "BadRequest",
    "Conflict",
    "Failure",
    "Forbidden",
    "Invalid",
    "NotFound",
    "RateLimited",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "invalid_fields",
]
