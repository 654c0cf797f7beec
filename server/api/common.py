"""What every HTTP handler shares: JSON in, JSON errors out, the client's address."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions
import sqlalchemy.exc
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.errors import (
    BadRequest,
    Failure,
    Invalid,
    RateLimited,
    Unavailable,
    UnsupportedMediaType,
    invalid_fields,
)
from server.keys import SETTINGS, SHARED
from signaling.cluster import FORWARDED_HEADER
from signaling.http_errors import error_body, failure_response

log = structlog.get_logger("halqa.http")
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionError,
)
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def read_json(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("unsupported_media_type", "send Content-Type: application/json")
    try:
        raw = await request.read()
        data = json.loads(raw)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError, non-UTF-8 bytes and integers
        # past Python's 4,300-digit limit; RecursionError deep nesting.
        raise BadRequest("bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_json", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: ValidationError) -> Invalid:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        fields.setdefault(name, msg)
    return invalid_fields(fields)


def client_ip(request: web.Request) -> str:
    if request.app[SETTINGS].behind_proxy:
        # The proxy appends the address it saw; anything before it was sent by
        # the client and could be forged to dodge per-client limits.
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.remote or "unknown"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API error is JSON; an unexpected exception is logged, never leaked.

    The HTTP adapter of the error vocabulary: a `Failure` raised anywhere below
    becomes its status and JSON body here (signaling/http_errors.py).
    """
    try:
        return await handler(request)
    except Failure as failure:
        return failure_response(failure)
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api(request):
            raise
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(exc.status, "http_error")
        return web.json_response(
            error_body(code, exc.reason), status=exc.status, headers=_keep_headers(exc)
        )
    except UNAVAILABLE as exc:
        # A backing service is down: say so, and when to come back; /readyz
        # tells the load balancer the same.
        log.warning("backend_unavailable", path=request.path, error=repr(exc))
        return failure_response(Unavailable(
            "unavailable", "a backing service is unavailable; try again shortly", retry_after=5))
    except Exception:
        log.exception("unhandled", path=request.path, method=request.method)
        return web.json_response(error_body("internal", "internal error"), status=500)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/whip/", "/whep/"))


def _keep_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k.lower() == "allow"}


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A per-client ceiling on API, WHIP and WHEP requests: one flooding client
    is slowed down, everyone else is served.

    Answers served from memory (routes named "public:…") are exempt, like
    static files: they cost less than the limiter's own check would (a Redis
    round trip with several processes), and a rush of visitors behind one
    campus address must not be refused the program. A request another node
    forwarded was counted there, under the real client's address (the relay
    refuses it unless a node signed it)."""
    limits = request.app[SETTINGS].limits
    public = (request.match_info.route.name or "").startswith("public:")
    if _is_api(request) and not public and FORWARDED_HEADER not in request.headers:
        if not await request.app[SHARED].hit(f"req:{client_ip(request)}",
                                           limits.requests_per_minute, 60):
            raise RateLimited("rate_limited", "too many requests; slow down", retry_after=60)
    elif (request.path.startswith("/socket.io/") and "sid" not in request.query
          # An engine.io handshake (no session id yet): a new connection.
          and not await request.app[SHARED].hit(f"eio:{client_ip(request)}",
                                              limits.handshakes_per_minute, 60)):
        raise RateLimited("rate_limited", "too many connections; slow down", retry_after=60)
    return await handler(request)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
