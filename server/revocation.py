"""Cutting someone off everywhere: a revoked token or a ban ends their live
media and their Socket.IO connections on every process within a second.

`cut(app, Cut(...))` acts on this process at once, then announces the cut on
the shared store (`LiveState.announce`: Redis pub/sub across processes; the
process alone hears itself in memory). Every process's `listener` (in
cleanup_ctx) applies the cut locally: signaling's `close_owner` takes the
identity's publishers off the air and its viewers off the stage, and the
connections made with a revoked grant are told and closed. `halqa revoke`
(the CLI, another process) announces the same way when Redis is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import socketio
import structlog
from aiohttp import web

import signaling
from server.keys import LIVE, SIO
from server.live import LiveState

log = structlog.get_logger("halqa.revocation")
CHANNEL = "cut"
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
    await apply_locally(app, what)
    await announce(app[LIVE], what, app.get(NODE, ""))


async def announce(live: LiveState, what: Cut, node: str = "") -> None:
    try:
        await live.announce(CHANNEL, json.dumps({**asdict(what), "node": node}))
    except Exception as exc:  # the store is down: this process has cut already
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
    node = secrets.token_hex(6)
    app[NODE] = node

    async def on_notice(message: str) -> None:
        data = json.loads(message)
        if data.get("node") == node:
            return  # our own: applied before it was announced
        await apply_locally(app, Cut(str(data["key"]), data.get("grant"), data.get("session")))

    task = asyncio.create_task(app[LIVE].listen(CHANNEL, on_notice), name="revocation-listener")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
