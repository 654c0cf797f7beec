"""The broadcast package, wired into halqa: destinations and options in the
database, the stage's changes, the mixers' watch credential, the lease store.

`setup(app)` adds the organizer routes (server/api/broadcast.py) and starts
the Broadcaster after the stage registry (signaling), stopping it first.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import or_, select

from broadcast.engine import Broadcaster
from broadcast.hls import HlsPlan, Rendition
from broadcast.leases import open_leases
from broadcast.outputs import OutputSpec
from broadcast.session import SessionPlan
from server.config import Settings
from server.keys import DB, METRICS, SETTINGS
from server.models import Event, Grant, Session
from server.models_broadcast import BroadcastOption, Destination
from signaling import Caller
from signaling.keys import HOST, REGISTRY

log = structlog.get_logger("halqa.broadcast")
BROADCASTER: web.AppKey[Broadcaster] = web.AppKey("broadcaster")
WATCH_TOKEN: web.AppKey[str] = web.AppKey("broadcast.watch_token", str)
# The mixers' identity on the stage: it may watch, nothing else (no publishing,
# no moderating); its key is nobody else's.
# It opens one connection per interpretation language beside the stage's: no cap.
MIXER = Caller(key="broadcast-mixer", name="broadcast mixer", role="mixer",
               unlimited_viewers=True)
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
    app.cleanup_ctx.append(_broadcaster)


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
    settings = app[SETTINGS]
    registry = app[REGISTRY]
    async def planner(session_id: str) -> SessionPlan:
        return await plan_for(app, session_id)

    broadcaster = Broadcaster(
        settings.broadcast,
        data_dir=settings.data_dir,
        node=secrets.token_hex(6),
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
    yield
    await broadcaster.close()
