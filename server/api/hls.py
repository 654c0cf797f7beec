"""HLS for participants: signed URLs, the files behind them, replays, watch beats.

    GET  /api/sessions/{id}/hls      a participant's token → {"url", "expires_at"}
    GET  /api/sessions/{id}/replay   → {"url", "duration_s", "published", ...}
    PUT  /api/sessions/{id}/replay   organizer: {"published": bool}
    POST /api/sessions/{id}/watch    {"mode": "webrtc|hls|replay"}: a player's beat
    GET  /hls/{session}/{scope}/{expiry}/{signature}/{file}   no headers needed

docs/protocol.md ("HLS") explains why the URLs look like this.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool
from sqlalchemy import select

from server import question, stages, watch
from server.api.common import read_json
from server.auth import principal_from_bearer, require_organizer
from server.errors import NotFound, not_found
from server.hls import CONTENT_TYPES, SESSION, Signer, Store, file_of
from server.hls_playlist import Archive
from server.hls_playlist import live as live_playlist
from server.hls_playlist import vod as vod_playlist
from server.keys import DB, HLS_SIGNER, HLS_STORE, PROGRAM_CACHE, SETTINGS
from server.models import Session
from server.models_hls import Replay
from server.models_interaction import Question
from server.roles import Principal

SEGMENT_CACHE = "public, max-age=31536000, immutable"
MASTER_CACHE = "public, max-age=10"
# About half a segment: a cache refetches a live playlist about as often as
# the packager rewrites it, and a player never sees one much older than that.
LIVE_CACHE = "public, max-age=1"
REPLAY_CACHE = "public, max-age=60"


async def _session(request: web.Request) -> Session:
    session_id = request.match_info["id"]
    if not SESSION.match(session_id):
        raise not_found("session")
    async with request.app[DB].session() as s:
        row = await s.get(Session, session_id)
    if row is None:
        raise not_found("session")
    return row


async def _watcher(request: web.Request) -> tuple[Principal, Session]:
    # Any valid token may watch any session (registration is for the event).
    principal = await principal_from_bearer(request)
    return principal, await _session(request)


def _url(request: web.Request, path: str) -> str:
    """Absolute, so that any player can open it: on `public_url` when set, else
    on the address this request came to (the page's own origin: no CORS)."""
    settings = request.app[SETTINGS]
    if settings.public_url:
        return settings.public_url + path
    return str(request.url.origin()) + path


async def get_hls(request: web.Request) -> web.Response:
    _, row = await _watcher(request)
    if row.id not in await stages.live_sessions(request.app):
        raise NotFound("not_live", "this session is not live now")
    if request.app[HLS_STORE].main_archive(row.id) is None:
        raise NotFound("hls_starting", "the HLS stream of this session is starting",
                       retry_after=2)
    grant = request.app[HLS_SIGNER].grant(row.id, "live")
    return web.json_response({
        "url": _url(request, grant.prefix + "master.m3u8"),
        "expires_at": dt.datetime.fromtimestamp(grant.expiry, dt.UTC).isoformat(),
    })


async def published(request: web.Request, session_id: str) -> bool:
    async with request.app[DB].session() as s:
        row = await s.get(Replay, session_id)
    return request.app[SETTINGS].hls.replay_published if row is None else row.published


async def replays_available(app: web.Application, session_ids: list[str]) -> set[str]:
    """Which of these (not live) sessions have a replay participants may watch."""
    have = [sid for sid in session_ids if app[HLS_STORE].main_archive(sid) is not None]
    if not have:
        return set()
    async with app[DB].session() as s:
        rows = (await s.execute(
            select(Replay.session_id, Replay.published).where(Replay.session_id.in_(have))
        )).all()
    said = {sid: bool(pub) for sid, pub in rows}
    default = app[SETTINGS].hls.replay_published
    return {sid for sid in have if said.get(sid, default)}


async def get_replay(request: web.Request) -> web.Response:
    principal, row = await _watcher(request)
    archive = request.app[HLS_STORE].main_archive(row.id)
    if archive is None:
        raise NotFound("no_replay", "this session has no recording")
    if row.id in await stages.live_sessions(request.app):
        raise NotFound("live_now", "this session is live; its replay comes after it")
    is_published = await published(request, row.id)
    staff = principal.is_organizer or principal.can_moderate(row.id)
    if not is_published and not staff:
        raise NotFound("not_published", "this replay is not published")
    grant = request.app[HLS_SIGNER].grant(row.id, "replay")
    async with request.app[DB].session() as s:
        answered = (await s.scalars(
            select(Question)
            .where(Question.session_id == row.id, Question.status == "answered")
            .order_by(Question.answered_at, Question.id))).all()
        questions = [_answered(q, archive) for q in answered]
    return web.json_response({
        "url": _url(request, grant.prefix + "master.m3u8"),
        "duration_s": round(archive.duration, 1),
        "published": is_published,
        "expires_at": dt.datetime.fromtimestamp(grant.expiry, dt.UTC).isoformat(),
        "questions": questions,
    })


def _answered(q: Question, archive: Archive) -> dict[str, object]:
    """The question as everyone sees it (server/question.py), and where in the
    replay it was answered (seconds: where to seek; None if not recorded then)."""
    out = question.view(q)
    offset = archive.offset_at(q.answered_at) if q.answered_at else None
    out["offset_s"] = round(offset, 1) if offset is not None else None
    return out


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    published: StrictBool


async def put_replay(request: web.Request) -> web.Response:
    await require_organizer(request)
    row = await _session(request)
    body = await read_json(request, ReplayIn)
    async with request.app[DB].transaction() as s:
        rep = await s.get(Replay, row.id)
        if rep is None:
            s.add(Replay(session_id=row.id, published=body.published))
        else:
            rep.published = body.published
    request.app[PROGRAM_CACHE].invalidate()  # the program's "replay" flag, here at once
    return web.json_response({"session": row.id, "published": body.published})


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["webrtc", "hls", "replay"]


async def post_watch(request: web.Request) -> web.Response:
    principal, row = await _watcher(request)
    body = await read_json(request, WatchIn)
    # Speakers, moderators and organizers watching are not audience figures.
    if principal.participant_id is not None:
        async with request.app[DB].transaction() as s:
            await watch.beat(s, row.id, principal.participant_id, body.mode)
    return web.Response(status=204)


async def get_file(request: web.Request) -> web.StreamResponse:
    m = request.match_info
    session, scope = m["session"], m["scope"]
    request.app[HLS_SIGNER].check(session, scope, m["expiry"], m["signature"])
    name = m["file"]
    found = file_of(name)
    store: Store = request.app[HLS_STORE]
    if scope == "replay" and not await published(request, session):
        # Hidden after the URL was handed out: what a cache already holds stays
        # until it expires (REPLAY_CACHE for playlists), nothing new is served.
        raise NotFound("not_published", "this replay is not published")
    if name == "master.m3u8":
        text = store.master(session)
        if text is None:
            raise not_found("stream")
        return _text(text, MASTER_CACHE)
    rendition = found.group("rendition")
    if name.endswith(".m3u8"):
        archive = store.archive(session, rendition)
        if archive is None or not archive.segments:
            raise not_found("stream")
        if scope == "live":
            return _text(live_playlist(archive, request.app[SETTINGS].hls.live_window), LIVE_CACHE)
        return _text(vod_playlist(archive), REPLAY_CACHE)
    path = store.session_dir(session) / name
    if not path.is_file():
        raise not_found("segment")
    return web.FileResponse(path, headers={"Cache-Control": SEGMENT_CACHE,
                                           "Content-Type": CONTENT_TYPES[".ts"]})


def _text(text: str, cache_control: str) -> web.Response:
    return web.Response(body=text.encode(), headers={
        "Content-Type": CONTENT_TYPES[".m3u8"], "Cache-Control": cache_control})


def setup_routes(app: web.Application, signer: Signer, store: Store) -> None:
    app[HLS_SIGNER] = signer
    app[HLS_STORE] = store
    r = app.router
    r.add_get("/api/sessions/{id}/hls", get_hls)
    r.add_get("/api/sessions/{id}/replay", get_replay)
    r.add_put("/api/sessions/{id}/replay", put_replay)
    r.add_post("/api/sessions/{id}/watch", post_watch)
    r.add_get("/hls/{session}/{scope}/{expiry}/{signature}/{file:.+}", get_file)
