"""halqa's error vocabulary, as server/ code imports it.

Domain code raises these (they are signaling/errors.py's, shared by every
package); only the adapters turn them into answers: HTTP in
server/api/common.py (through signaling/http_errors.py), Socket.IO in
server/realtime/common.py.

    raise NotFound("not_found", "no such session")
    raise invalid_fields({"session": "no such session"})   # 422 "some fields are invalid"
"""

from __future__ import annotations

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


def not_found(what: str) -> NotFound:
    return NotFound("not_found", f"no such {what}")


__all__ = ["BadRequest", "Conflict", "Failure", "Forbidden", "Invalid", "NotFound",
           "RateLimited", "TooLarge", "Unauthorized", "Unavailable", "UnsupportedMediaType",
           "invalid_fields", "not_found"]
