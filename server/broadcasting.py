"""The broadcast package, wired into halqa: destinations and options in the
database, the stage's changes, the mixers' watch credential, the lease store.

`setup(app)` adds the organizer routes (server/api/broadcast.py) and starts
the Broadcaster after the stage registry (signaling), stopping it first.

Several processes: an organizer's start, stop or status request runs in the
process that runs the session's broadcast (its lease), else in the stage's
holder, forwarded there signed (`act`). Only the holder sees the stage change,
so only there does the mixer's layout follow the speakers; a broadcast running
elsewhere anyway (started before anyone held the stage, or the stage moved)
asks the holder for its snapshot every FOLLOW_EVERY_S (`_follow_holders`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import or_, select

from broadcast.engine import Broadcaster, HeldElsewhere
from broadcast.hls import HlsPlan, Rendition
from broadcast.leases import open_leases
from broadcast.outputs import OutputSpec
from broadcast.session import SessionPlan
from server.config import Settings
from server.errors import BadRequest, Conflict
from server.keys import DB, METRICS, SETTINGS
from server.models import Event, Grant, Session
from server.models_broadcast import BroadcastOption, Destination
from signaling import Caller
from signaling.keys import HOST, REGISTRY

if TYPE_CHECKING:
    from signaling.registry import StageRegistry

log = structlog.get_logger("halqa.broadcast")
BROADCASTER: web.AppKey[Broadcaster] = web.AppKey("broadcaster")
WATCH_TOKEN: web.AppKey[str] = web.AppKey("broadcast.watch_token", str)
# The mixers' identity on the stage: it may watch, nothing else (no publishing,
# no moderating); its key is nobody else's.
# It opens one connection per interpretation language beside the stage's: no cap;
# its own process serves it even when full (the organizer decided on it).
MIXER = Caller(key="broadcast-mixer", name="broadcast mixer", role="mixer",
               unlimited_viewers=True, own_process=True)
# A program carries at most this many language mixes (each an AAC encode).
MAX_LANGUAGES = 4


def setup(app: web.Application) -> None:
    """Call after `signaling.setup`: the mixers' credential joins its token resolver."""
    from server.api import broadcast as routes

    # Made here, held in memory, handed to each mixer on its stdin; a restart
    # of halqa makes a new one.
    watch_token = secrets.token_urlsafe(32)
    app[WATCH_TOKEN] = watch_token
    host = app[HOST]
    inner = host.resolve_token

    async def resolve(token: str) -> Caller | None:
        if hmac.compare_digest(token.encode(), watch_token.encode()):
            return MIXER
        return await inner(token)

    app[HOST] = dataclasses.replace(host, resolve_token=resolve)
    routes.setup_routes(app)
    app.router.add_post(INTERNAL_PATH, _internal_act)
    app.cleanup_ctx.append(_broadcaster)


FOLLOW_EVERY_S = 1.0
# Node-to-node (signed): an organizer's request, forwarded to where it must run.
INTERNAL_PATH = "/internal/broadcast/{session_id}"


async def _runner_url(app: web.Application, session_id: str) -> str | None:
    """The other node that must answer for this session's broadcast, or None
    (this one): the node running it now (it holds the lease), else the node
    holding the stage, which is where the stage's changes are seen (automatic
    starts begin there too). Nobody holds either: here."""
    from signaling.relay import NODE_KEY  # aiortc loads with signaling.setup, not before

    node = app.get(NODE_KEY)
    if node is None or node.http is None:
        return None
    try:
        owner = await app[BROADCASTER].leases.holder(f"broadcast:{session_id}")
    except Exception as exc:  # the store is away: answer here, as a lone process would
        log.warning("broadcast_route_unknown", session=session_id, error=repr(exc))
        return None
    owner = owner or await node.holder_of(session_id)
    if owner is None or owner == node.id:
        return None
    # A node gone without a word: its lease lapses (LEASE_TTL_S); until then
    # a start here answers broadcast_elsewhere.
    return node.url_of(owner)


async def act(app: web.Application, session_id: str, action: str,
              forward: bool = True) -> dict[str, Any]:
    """Start, stop, read or refresh (its destinations changed) a session's
    broadcast where it runs (see `_runner_url`); its status."""
    url = await _runner_url(app, session_id) if forward else None
    if url is not None:
        from signaling.relay import NODE_KEY, ask_node

        return await ask_node(app[NODE_KEY], url, INTERNAL_PATH.format(session_id=session_id),
                              {"action": action}, f"broadcast {action} for {session_id}")
    b = app[BROADCASTER]
    try:
        if action == "start":
            await b.start(session_id)
        elif action == "stop":
            await b.stop(session_id)
        elif action == "refresh" and session_id in b.sessions:  # its destinations changed
            await b.reconcile(session_id)
    except HeldElsewhere:
        raise Conflict("broadcast_elsewhere",
                       "another halqa process runs this session's broadcast") from None
    return await b.status(session_id)


class _ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    action: Literal["start", "stop", "status", "refresh"]


async def _internal_act(request: web.Request) -> web.Response:
    """Another node's organizer request; run here, never forwarded again (no loop)."""
    from signaling.relay import read_capped, signed_by_node

    body = await read_capped(request, 4096)
    await signed_by_node(request, body)
    try:
        action = _ActIn.model_validate_json(body).action
    except ValidationError:
        raise BadRequest("invalid", 'expected {"action": "start"|"stop"|"status"|"refresh"}'
                         ) from None
    session_id = request.match_info["session_id"]
    return web.json_response(await act(request.app, session_id, action, forward=False))


def _title(names: dict[str, Any] | None, language: str) -> str:
    names = names or {}
    for lang in (language, "fr", "en", "ar"):
        if names.get(lang):
            return str(names[lang])
    return next((str(v) for v in names.values() if v), "")


async def plan_for(app: web.Application, session_id: str) -> SessionPlan:
    """What the organizer configured for a session: its destinations and switches."""
    settings = app[SETTINGS].broadcast
    async with app[DB].session() as s:
        session = await s.get(Session, session_id)
        if session is None:
            return SessionPlan(record=False)
        event = await s.get(Event, session.event_id)
        option = await s.get(BroadcastOption, session_id)
        rows = (await s.scalars(
            select(Destination)
            .where(or_(Destination.session_id == session_id, Destination.session_id.is_(None)))
            .order_by(Destination.created_at, Destination.id)
        )).all()
        # The languages of the session's interpreters: each one mix in the program.
        languages = (await s.scalars(
            select(Grant.language).distinct()
            .where(Grant.role == "interpreter", Grant.session_id == session_id,
                   Grant.revoked_at.is_(None), Grant.language.is_not(None))
            .order_by(Grant.language)
        )).all()
    return SessionPlan(
        destinations=[OutputSpec(id=d.id, name=d.name, kind="rtmp", url=d.url, key=d.stream_key,
                                 audio=d.audio) for d in rows],
        languages=tuple(str(lang) for lang in languages)[:MAX_LANGUAGES],
        automatic=bool(option and option.automatic),
        record=settings.record if option is None or option.record is None else option.record,
        event_title=_title(event.name if event else None, settings.language),
        session_title=_title(session.title, settings.language),
    )


def hls_plan(settings: Settings) -> HlsPlan:
    """The HLS renditions the mixer feeds (server/hls.py serves what they write)."""
    return HlsPlan(
        root=settings.data_dir / "hls",
        renditions=tuple(Rendition(r.name, r.width, r.height, r.video_kbps, r.audio_kbps)
                         for r in settings.hls.renditions),
        segment_s=settings.hls.segment_s,
    )


def _whep_url(app: web.Application, session_id: str) -> str:
    """This process's own WHEP URL: its private listener (`internal_url`), which
    only this process serves. Not the public port: with `--workers N` the
    workers share it (SO_REUSEPORT), the kernel may hand the mixer's connection
    to a sibling, and the mixer's credential means nothing there (401)."""
    cluster = app[HOST].cluster
    if cluster is not None:
        return f"{cluster.internal_url}/whep/{session_id}?layout=stage"
    settings = app[SETTINGS]
    host = settings.host
    if host in ("0.0.0.0", "::", "", "localhost"):  # noqa: S104
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/whep/{session_id}?layout=stage"


async def _broadcaster(app: web.Application) -> AsyncIterator[None]:
    from signaling.relay import NODE_KEY

    settings = app[SETTINGS]
    registry = app[REGISTRY]
    async def planner(session_id: str) -> SessionPlan:
        return await plan_for(app, session_id)

    broadcaster = Broadcaster(
        settings.broadcast,
        data_dir=settings.data_dir,
        # The cluster's name for this node: a lease names where a broadcast runs.
        node=app[NODE_KEY].id if NODE_KEY in app else secrets.token_hex(6),
        leases=open_leases(settings.redis_url),
        planner=planner,
        snapshot=registry.snapshot,
        whep_url=lambda session_id: _whep_url(app, session_id),
        token=app[WATCH_TOKEN],
        positions=registry.media.max_publishers,
        hls=hls_plan(settings) if settings.hls.enabled else None,
    )
    app[BROADCASTER] = broadcaster
    registry.listeners.append(broadcaster.on_stage)
    app[METRICS].watch("halqa_broadcast", broadcaster.counts,
                       "broadcasts run by this process")
    follower = asyncio.create_task(_follow_holders(broadcaster, registry))
    yield
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower
    await broadcaster.close()


async def _follow_holders(broadcaster: Broadcaster, registry: StageRegistry) -> None:
    """The stage changes of broadcasts running here for a stage this process
    does not hold: those reach only the holder's listeners (Stage.changed),
    so ask the holder (one signed GET a second per such broadcast)."""
    last: dict[str, dict[str, Any]] = {}
    while True:
        await asyncio.sleep(FOLLOW_EVERY_S)
        for sid in list(last):
            if sid not in broadcaster.sessions:
                del last[sid]
        for sid in list(broadcaster.sessions):
            stage = registry.stages.get(sid)
            if stage is not None and stage.held:
                last.pop(sid, None)
                continue
            try:
                snap = await registry.current(sid)
            except Exception as exc:  # the holder is away: keep the last layout
                log.warning("broadcast_stage_unknown", session=sid, error=repr(exc))
                continue
            stage = registry.stages.get(sid)
            if stage is not None and stage.held:
                continue  # became ours meanwhile: its own changes are newer than this
            if snap != last.get(sid):
                last[sid] = snap
                await broadcaster.on_stage(snap)
