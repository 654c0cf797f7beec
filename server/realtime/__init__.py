"""Socket.IO: authentication at connect; the domain handlers register themselves.

Handlers stay thin: parse the payload, check the caller's role, call one
domain function, acknowledge. Every client → server event acknowledges with
{"ok": true, ...} or {"ok": false, "error": code}.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import socketio
import structlog
from aiohttp import web

from server.config import Settings
from server.keys import DB, GRANTS, METRICS, SETTINGS, SHARED, SIO
from server.moderation import active_sanctions
from server.presence import PresenceTracker
from server.realtime import chat as rt_chat
from server.realtime import interpretation as rt_interpretation
from server.realtime import moderation as rt_moderation
from server.realtime import poll as rt_poll
from server.realtime import presence as rt_presence
from server.realtime import question as rt_question
from server.realtime import reaction as rt_reaction
from server.realtime.bus import bus_ctx
from server.realtime.chat_fanout import chat_fanout_ctx, enter_features
from server.realtime.common import PRESENCE, flooding, session_room, user_room
from server.realtime.redis_manager import RedisManager
from server.realtime.roomcast import roomcast_ctx
from server.revocation import grant_room
from server.shared import Counts

log = structlog.get_logger("halqa.realtime")

# The largest Socket.IO message a client may send; chat and questions are far
# below it, and anything larger is dropped by the engine before parsing.
MAX_MESSAGE_BYTES = 16 * 1024


def create_sio(settings: Settings) -> socketio.AsyncServer:
    manager = None
    if settings.redis_url:
        # Cross-process broadcasts: every node's emits reach every node's clients.
        manager = RedisManager(settings.redis_url, channel="halqa-sio")
    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        ping_interval=10,
        ping_timeout=10,
        cors_allowed_origins=[],
        logger=False,
        engineio_logger=False,
    )


def setup_realtime(app: web.Application, sio: socketio.AsyncServer) -> None:
    app[SIO] = sio
    sio.attach(app)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        principal = await app[GRANTS].resolve(token if isinstance(token, str) else None)
        if principal is None:
            app[METRICS].socket_refused.inc()
            raise refused("unauthorized", "missing, unknown or revoked token")
        # Interaction: an identity banned event-wide is refused at (re)connect.
        if "ban" in await active_sanctions(app[DB], principal.key, None):
            app[METRICS].socket_refused.inc()
            raise refused("banned", "you were removed from this event")
        await sio.save_session(sid, {"principal": principal,
                                     "flood_limit": app[SETTINGS].interaction.flood_events})
        await sio.enter_room(sid, grant_room(principal.token_id))
        await sio.enter_room(sid, user_room(principal.key))
        await enter_features(sio, sid, auth)
        app[METRICS].socket_connections.inc()

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        app[METRICS].socket_connections.dec()
        if PRESENCE in app:
            await app[PRESENCE].drop(sid)

    # Interaction (chat, question, presence, moderation): each module registers
    # its events; the presence ticker runs for the app's lifetime.
    for module in (rt_presence, rt_chat, rt_question, rt_moderation, rt_poll, rt_reaction,
                   rt_interpretation):
        module.register(app, sio)
    app.cleanup_ctx.append(_presence_ticker)
    # The interaction bus, then what publishes on it (chat per tick).
    app.cleanup_ctx.append(bus_ctx)
    app.cleanup_ctx.append(roomcast_ctx)
    app.cleanup_ctx.append(chat_fanout_ctx)
    app.cleanup_ctx.append(rt_poll.pollcast_ctx)
    app.cleanup_ctx.append(rt_reaction.reactioncast_ctx)

    @sio.on("*")
    async def unknown(event: str, sid: str, *args: Any) -> dict[str, Any]:
        # Unknown events cost a lookup too: the same flood limit as the rest.
        if flooding(await sio.get_session(sid)):
            return {"ok": False, "error": "rate_limited"}
        return {"ok": False, "error": "unknown_event"}


def refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection as clients expect it: `connect_error` with
    err.message = code and err.data = {code, message} (socket.io-client)."""
    return socketio.exceptions.ConnectionRefusedError(code, {"code": code, "message": message})


async def _presence_ticker(app: web.Application) -> AsyncIterator[None]:
    sio = app[SIO]

    async def show(session_id: str, counts: Counts) -> None:
        # This process's own clients only (ignore_queue): every process pushes
        # to its own, so a count is never sent twice.
        await sio.emit("presence:count",
                       {"session": session_id, "count": counts.count, "peak": counts.peak},
                       room=session_room(session_id), ignore_queue=True)

    tracker = PresenceTracker(app[SHARED], app[DB], show, app[SETTINGS].presence_ttl)
    app[PRESENCE] = tracker
    async with tracker.running():
        yield
