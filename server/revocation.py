"""Cutting someone off everywhere: a revoked token or a ban ends their live
media and their Socket.IO connections on every process within a second.

`cut(app, Cut(...))` acts on this process at once, then publishes the cut on
the interaction bus (server/realtime/bus.py: Redis pub/sub across processes,
in place when alone). Every other process's handler applies it locally:
signaling's `close_owner` takes the identity's publishers off the air and its
viewers off the stage, and the connections made with a revoked grant are told
and closed. `halqa revoke` (the CLI, another process) publishes the same
notice when Redis is configured.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import socketio
import structlog
from aiohttp import web

import signaling
from server.keys import SIO

if TYPE_CHECKING:
    from server.realtime.bus import Bus

log = structlog.get_logger("halqa.revocation")
KIND = "cut"
NODE: web.AppKey[str] = web.AppKey("revocation_node", str)


@dataclass(frozen=True, slots=True)
class Cut:
    key: str  # the identity (Principal.key) whose media ends
    grant: int | None = None  # a revoked token: its connections are closed too
    session: str | None = None  # a ban from one session; None: everywhere


def grant_room(token_id: int | None) -> str:
    return f"grant:{token_id}"


async def cut(app: web.Application, what: Cut) -> None:
    """Apply here now, then tell every other process."""
    # Imported here: the realtime package imports this module (a cycle otherwise).
    from server.realtime.bus import BUS

    await apply_locally(app, what)
    await announce(app[BUS], what, app.get(NODE, ""))


async def announce(bus: Bus, what: Cut, node: str = "") -> None:
    try:
        await bus.publish(KIND, json.dumps({**asdict(what), "node": node}))
    except Exception as exc:  # Redis is down: this process has cut already
        log.warning("cut_not_announced", key=what.key, error=repr(exc))


async def apply_locally(app: web.Application, what: Cut) -> None:
    closed = signaling.close_owner(app, what.key, what.session)
    sio = app.get(SIO)
    if what.grant is not None and sio is not None:
        await disconnect_grant_here(sio, what.grant)
    if closed:
        log.info("media_cut", key=what.key, session=what.session, resources=closed)


async def disconnect_grant_here(sio: socketio.AsyncServer, grant: int) -> None:
    """This process's connections made with a revoked token: told, then closed."""
    room = grant_room(grant)
    await sio.emit("auth:revoked", {}, room=room, ignore_queue=True)
    for sid, _ in list(sio.manager.get_participants("/", room)):
        await sio.disconnect(sid, ignore_queue=True)


async def listener(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx, after the bus's: apply the cuts other processes announce."""
    from server.realtime.bus import BUS

    node = secrets.token_hex(6)
    app[NODE] = node

    async def on_notice(message: str) -> None:
        data = json.loads(message)
        if data.get("node") == node:
            return  # our own: applied before it was announced
        await apply_locally(app, Cut(str(data["key"]), data.get("grant"), data.get("session")))

    app[BUS].on(KIND, on_notice)
    yield
