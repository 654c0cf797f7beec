"""The app's side of the media seam, and which sessions are live across nodes.

`media_host(app)` fills signaling's `Host` (signaling/host.py): the media
settings, a token resolver that turns a grant into signaling's `Caller`, and
the Socket.IO server (server/realtime/stage.py).

Each process says every few seconds which stages it hosts with a speaker on
air (SharedState, Redis when configured); the program reads the union, so a
viewer on any process sees the same "live" flag. A crashed process stops
saying it and its stages expire by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

import signaling
from server.api.common import client_ip
from server.errors import Forbidden, NotFound
from server.interpretation import LANGUAGES
from server.keys import DB, GRANTS, SETTINGS, SHARED, SIO
from server.models import Session
from server.moderation import sanctions_in
from server.roles import Principal, Role
from signaling import EVERY_SESSION, Caller, Host
from signaling.cluster import FORWARDED_HEADER, ClusterConfig

log = structlog.get_logger("halqa.stages")
BEAT_S = 2.0
TTL_S = 6.0


def media_caller(principal: Principal) -> Caller:
    """What signaling needs to know of a grant: who, and where they may publish or moderate."""
    if principal.is_organizer:
        publish = moderate = frozenset({EVERY_SESSION})
    else:
        session = principal.session_id
        # A speaker is bound to one session; a moderator to one, or (None) all.
        publish = frozenset({session}) if principal.role is Role.speaker and session else \
            frozenset()
        moderate = frozenset({session or EVERY_SESSION}) if principal.role is Role.moderator \
            else frozenset()
    interprets = None
    if principal.role is Role.interpreter and principal.session_id and principal.language:
        interprets = (principal.session_id, principal.language)
    return Caller(
        key=principal.key,
        name=principal.name,
        role=principal.role.value,
        publish_to=publish,
        moderate=moderate,
        one_seat=principal.role is Role.speaker,
        unlimited_viewers=principal.is_organizer,
        interprets=interprets,
    )


def media_host(app: web.Application, cluster: ClusterConfig | None = None) -> Host:
    """signaling's Host for this app; call after setup_realtime (it needs app[SIO])."""
    from server.realtime.stage import StageSockets

    grants = app[GRANTS]

    async def resolve(token: str) -> Caller | None:
        principal = await grants.resolve(token)
        return media_caller(principal) if principal is not None else None

    db = app[DB]

    async def admit(caller: Caller, session_id: str, kind: str) -> None:
        """Before any media resource: the session is in the program, and the
        caller is not banned from it (or from the event)."""
        async with db.session() as s:
            if await s.get(Session, session_id) is None:
                raise NotFound("not_found", "no such session in the program")
            if "ban" in await sanctions_in(s, caller.key, session_id):
                raise Forbidden("banned", "you were removed from this session")

    sio = app.get(SIO)
    return Host(
        media=app[SETTINGS].media,
        resolve_token=resolve,
        sio=StageSockets(sio) if sio is not None else None,
        cluster=cluster,
        admit=admit,
        address_of=client_address,
        languages=LANGUAGES,
    )


def client_address(request: web.Request) -> str:
    """The viewer's address for the per-address caps. A WHEP request another
    node forwarded (signed; signaling.relay checked it) names the client in
    X-Forwarded-For; otherwise the usual rule (behind_proxy)."""
    if FORWARDED_HEADER in request.headers:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        return forwarded or client_ip(request)
    return client_ip(request)


async def live_sessions(app: web.Application) -> set[str]:
    # This process's own stages count at once; the others' within a beat.
    return signaling.live_sessions(app) | await app[SHARED].stages_live()


async def beacon(app: web.Application) -> AsyncIterator[None]:
    node = secrets.token_hex(6)

    async def beat() -> None:
        while True:
            try:
                await app[SHARED].stages_set(node, signaling.live_sessions(app), TTL_S)
            except Exception as exc:  # Redis away: say so, keep beating
                log.warning("stage_beacon_failed", error=repr(exc))
            await asyncio.sleep(BEAT_S)

    task = asyncio.create_task(beat())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await app[SHARED].stages_set(node, (), TTL_S)
