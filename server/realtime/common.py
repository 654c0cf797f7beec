"""The handler shape every interaction event shares.

`on(sio, event, Model)` registers a handler that: refuses a connection
sending more than `interaction.flood_events` events a second; validates the payload with a
strict pydantic model (wrong types, unknown fields → "invalid" naming the
fields); calls the handler with the caller's Principal; turns a `Failure`
(server/errors.py) into its error ack and any other exception into "internal"
(logged). Nothing is applied when the ack is an error.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import socketio
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.api.common import UNAVAILABLE
from server.errors import Failure
from server.presence import PresenceTracker
from server.roles import Principal

log = structlog.get_logger("halqa.realtime")
PRESENCE: web.AppKey[PresenceTracker] = web.AppKey("presence", PresenceTracker)
M = TypeVar("M", bound=BaseModel)
Ack = dict[str, Any]
Handler = Callable[[str, Principal, M], Awaitable[Ack]]

SessionId = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=4000)]
# A database row id: a larger number cannot name a row (and SQLite/PostgreSQL
# would raise on it), so it is "invalid", not an internal error.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def mod_room(session_id: str) -> str:
    return f"mod:{session_id}"


def user_room(key: str) -> str:
    return f"user:{key}"


def polls_room(session_id: str) -> str:
    """Those who run the session's polls (server/poll.py `can_run`)."""
    return f"polls:{session_id}"


__all__ = ["PRESENCE", "Payload", "RowId", "SessionId", "Text", "mod_room", "on", "polls_room",
           "session_room", "user_room"]


def on(sio: socketio.AsyncServer, event: str, model: type[M]) -> Callable[[Handler[M]], None]:
    def register(fn: Handler[M]) -> None:
        async def handler(sid: str, data: Any = None, *_: Any) -> Ack:
            # python-socketio calls a connection's stored state its "session";
            # here it is `conn`, a session being an event session.
            conn: dict[str, Any] = await sio.get_session(sid)
            if flooding(conn):
                return {"ok": False, "error": "rate_limited"}
            if not isinstance(data, dict):
                return {"ok": False, "error": "invalid", "fields": {"payload": "expected object"}}
            try:
                payload = model.model_validate(data)
            except ValidationError as exc:
                fields = {".".join(str(p) for p in e["loc"]) or "payload": e["type"]
                          for e in exc.errors()}
                return {"ok": False, "error": "invalid", "fields": fields}
            try:
                result = await fn(sid, conn["principal"], payload)
            except Failure as failure:
                return failure_ack(failure)
            except UNAVAILABLE as exc:
                # Redis or the database is away: nothing was acknowledged, say
                # so; the client may retry (never acked and then dropped).
                log.warning("event_unavailable", sio_event=event, error=repr(exc))
                return {"ok": False, "error": "unavailable", "retry_after": 5}
            except Exception:
                # structlog's first argument is named `event`: the Socket.IO
                # event goes under another name (event= raised TypeError here).
                log.exception("event_failed", sio_event=event)
                return {"ok": False, "error": "internal"}
            return {"ok": True, **result}

        sio.on(event, handler)

    return register


def failure_ack(failure: Failure) -> Ack:
    """The Socket.IO adapter's half of the error vocabulary: {ok: false, error: code, ...}."""
    ack: Ack = {"ok": False, "error": failure.code}
    if failure.message:
        ack["message"] = failure.message
    if failure.fields:
        ack["fields"] = failure.fields
    return {**ack, **failure.detail}


def flooding(conn: dict[str, Any]) -> bool:
    # Per connection, in this process (a connection lives in one process):
    # no shared-store round trip for the cheapest protection. The limit was
    # put in the connection's state at connect (`interaction.flood_events`).
    now = time.monotonic()
    start, count = conn.get("flood", (now, 0))
    count = int(count)
    if now - start >= 1.0:
        start, count = now, 0
    conn["flood"] = (start, count + 1)
    return count + 1 > int(conn["flood_limit"])
