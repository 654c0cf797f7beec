"""The application factory: everything halqa serves, on one aiohttp app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy.exc
import structlog
from aiohttp import web

import signaling
from server import broadcasting, interpretation, revocation, stages
from server.api import audience, calendar, health, invites, program, registrations
from server.api import hls as hls_api
from server.api import report as report_api
from server.api.common import errors_middleware, rate_limit, security_headers
from server.api.pages import setup_pages
from server.cluster import cluster_config
from server.config import Settings
from server.db import Database
from server.grants import Grants
from server.hls import Signer, Store
from server.keys import DB, GRANTS, METRICS, PROGRAM_CACHE, SETTINGS, SHARED
from server.metrics import Metrics
from server.program import ProgramError, parse_program, program_is_empty, store_program
from server.public_cache import ProgramCache
from server.realtime import create_sio, setup_realtime
from server.secrets_store import hls_secret, organizer_token
from server.shared import open_shared_state
from server.visitors import flusher

log = structlog.get_logger("halqa")


def create_app(settings: Settings, internal_url: str | None = None) -> web.Application:
    metrics = Metrics()
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes,
        middlewares=[metrics.middleware(), security_headers, errors_middleware, rate_limit],
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    db = Database(settings.database)
    app[DB] = db
    app[GRANTS] = Grants(db, organizer_token(settings))
    pub = settings.public
    app[PROGRAM_CACHE] = ProgramCache(pub.refresh_s, pub.max_age_s, pub.stale_s)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_shared_state)

    r = app.router
    r.add_get("/healthz", health.healthz)
    r.add_get("/readyz", health.readyz)
    r.add_get("/metrics", health.metrics)
    # Named "public:…": answered from memory, so the per-client limit skips them
    # (like static files; see rate_limit).
    r.add_get("/api/program", program.get_program, name="public:program")
    r.add_get("/api/sessions/{id}", program.get_session, name="public:session")
    r.add_get("/api/sessions/{id}/calendar.ics", calendar.session_ics)
    r.add_get("/api/program/calendar.ics", calendar.program_ics)
    r.add_post("/api/registrations", registrations.create_registration)
    r.add_post("/api/invites", invites.create_invite)
    r.add_get("/api/invites", invites.list_invites)
    r.add_delete("/api/invites/{id}", invites.revoke_invite)
    r.add_post("/api/tokens/revoke", invites.revoke_token)

    report_api.setup_routes(app)
    hls = settings.hls
    hls_api.setup_routes(app, Signer(hls_secret(settings), hls.url_ttl_s, hls.url_window_s),
                         Store(settings.data_dir / "hls", hls))
    audience.setup_routes(app)  # /api/live, /api/attendance (server/api/audience.py)
    setup_realtime(app, create_sio(settings))
    signaling.setup(app, stages.media_host(app, cluster_config(settings, internal_url)))
    broadcasting.setup(app)  # after signaling: it watches the stages (server/broadcasting.py)
    app.cleanup_ctx.append(stages.beacon)
    app.cleanup_ctx.append(interpretation.listening_recorder)  # the report's per-language figures
    app.cleanup_ctx.append(revocation.listener)
    app.cleanup_ctx.append(flusher)
    metrics.watch("halqa_stage", lambda: signaling.counts(app), "live stages in this process")
    setup_pages(app)
    return app


async def _storage(app: web.Application) -> AsyncIterator[None]:
    db = app[DB]
    await db.migrate()
    await load_demo_if_empty(db, app[SETTINGS].event_file)
    yield
    await db.close()


async def load_demo_if_empty(db: Database, event_file: Path) -> None:
    try:
        async with db.transaction() as s:
            if not await program_is_empty(s):
                return
            try:
                prog = parse_program(event_file)
            except ProgramError as exc:
                log.error("program_not_loaded", error=str(exc))
                return
            await store_program(s, prog)
    except sqlalchemy.exc.IntegrityError:
        # Several processes starting together on one database all found it
        # empty; another one stored the program first. Nothing is lost.
        log.info("program_loaded_elsewhere", file=str(event_file))
        return
    log.info("program_loaded", file=str(event_file), sessions=len(prog.sessions))


async def _shared_state(app: web.Application) -> AsyncIterator[None]:
    app[SHARED] = await open_shared_state(app[SETTINGS].redis_url)
    yield
    await app[SHARED].close()
