"""Organizer API: broadcast destinations, start/stop/status, recordings.

    POST/GET  /api/sessions/{id}/destinations        DELETE .../destinations/{dest}
    POST/GET  /api/destinations (every session)      DELETE /api/destinations/{dest}
    POST/GET/PATCH /api/sessions/{id}/broadcast
    GET       /api/sessions/{id}/recordings          GET/DELETE .../recordings/{rec}
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Literal
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, or_, select

from broadcast.recordings import RecordingBusy
from server.api.common import json_response, read_json
from server.auth import require_organizer
from server.broadcasting import BROADCASTER, act
from server.errors import Conflict, Failure, not_found
from server.keys import DB, SETTINGS
from server.models import Session
from server.models_broadcast import BroadcastOption, Destination

log = structlog.get_logger("halqa.broadcast")
KEY_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
# What a destination carries: the floor, or an interpretation language's mix.
AUDIO = re.compile(r"^(?:floor|[a-z]{2,3})$")


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=500)
    key: str = Field(min_length=1, max_length=500)
    audio: str = Field(default="floor", max_length=8)

    @field_validator("audio")
    @classmethod
    def _audio(cls, v: str) -> str:
        if not AUDIO.match(v):
            raise ValueError("'floor' or a 2-3 letter language code such as ar")
        return v

    @field_validator("url")
    @classmethod
    def _rtmp(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
            raise ValueError("must be an rtmp:// or rtmps:// URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment or " " in v:
            raise ValueError("no credentials, query or spaces in the URL; the key goes in 'key'")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY_CHARS.match(v):
            raise ValueError("printable characters only, no spaces")
        return v


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["start", "stop"]


class OptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    automatic: bool | None = None
    record: bool | None = None


def masked(key: str) -> str:
    return "****" + key[-4:] if len(key) >= 16 else "****"


def public(d: Destination) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "url": d.url, "key": masked(d.stream_key),
            "session": d.session_id, "audio": d.audio}


async def _session(request: web.Request) -> str:
    session_id = request.match_info["id"]
    async with request.app[DB].session() as s:
        if await s.get(Session, session_id) is None:
            raise not_found("session")
    return session_id


# -- destinations -------------------------------------------------------------
async def _add(request: web.Request, session_id: str | None) -> web.Response:
    data = await read_json(request, DestinationIn)
    limit = request.app[SETTINGS].broadcast.max_destinations
    async with request.app[DB].transaction() as s:
        scope = (Destination.session_id == session_id) if session_id else (
            Destination.session_id.is_(None))
        count = await s.scalar(select(func.count()).select_from(Destination).where(scope))
        if (count or 0) >= limit:
            raise Conflict("too_many_destinations",
                           f"at most {limit} destinations here; delete one first")
        dest = Destination(id=secrets.token_hex(8), session_id=session_id, name=data.name,
                           url=data.url, stream_key=data.key, audio=data.audio)
        s.add(dest)
    await _refresh(request, session_id)
    return json_response({"id": dest.id, "name": dest.name, "url": dest.url,
                          "audio": dest.audio}, status=201)


async def _list(request: web.Request, session_id: str | None) -> web.Response:
    async with request.app[DB].session() as s:
        where = (or_(Destination.session_id == session_id, Destination.session_id.is_(None))
                 if session_id else Destination.session_id.is_(None))
        rows = (await s.scalars(select(Destination).where(where)
                                .order_by(Destination.created_at, Destination.id))).all()
    return json_response([public(d) for d in rows])


async def _delete(request: web.Request, session_id: str | None) -> web.Response:
    async with request.app[DB].transaction() as s:
        dest = await s.get(Destination, request.match_info["dest"])
        if dest is None or dest.session_id != session_id:
            raise not_found("destination")
        await s.delete(dest)
    await _refresh(request, session_id)
    return web.Response(status=204)


async def _refresh(request: web.Request, session_id: str | None) -> None:
    """A destination added or removed while live starts or stops at once: a
    session's, wherever its broadcast runs; the event's, in this process's."""
    b = request.app[BROADCASTER]
    if session_id is not None:
        try:
            await act(request.app, session_id, "refresh")
        except Failure as exc:  # saved all the same: it applies at the next start
            log.warning("broadcast_refresh_failed", session=session_id, error=repr(exc))
        return
    for sid in list(b.sessions):
        await b.reconcile(sid)


async def add_session_destination(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _add(request, await _session(request))


async def list_session_destinations(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _list(request, await _session(request))


async def delete_session_destination(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _delete(request, await _session(request))


async def add_event_destination(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _add(request, None)


async def list_event_destinations(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _list(request, None)


async def delete_event_destination(request: web.Request) -> web.Response:
    await require_organizer(request)
    return await _delete(request, None)


# -- the broadcast ------------------------------------------------------------
async def broadcast_status(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = await _session(request)
    return json_response(await act(request.app, session_id, "status"))


async def broadcast_action(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = await _session(request)
    data = await read_json(request, BroadcastIn)
    # Run where the broadcast runs, or where the stage is held (server/broadcasting.py).
    return json_response(await act(request.app, session_id, data.action))


async def broadcast_options(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = await _session(request)
    data = await read_json(request, OptionsIn)
    async with request.app[DB].transaction() as s:
        option = await s.get(BroadcastOption, session_id)
        if option is None:
            option = BroadcastOption(session_id=session_id, automatic=False, record=None)
            s.add(option)
        if data.automatic is not None:
            option.automatic = data.automatic
        if data.record is not None:
            option.record = data.record
    b = request.app[BROADCASTER]
    await b.reconcile(session_id)
    return json_response(await b.status(session_id))


# -- recordings ---------------------------------------------------------------
async def list_recordings(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = await _session(request)
    b = request.app[BROADCASTER]
    holder = await b.leases.holder(f"broadcast:{session_id}")
    return json_response(await b.recordings.list(session_id, holder))


async def download_recording(request: web.Request) -> web.StreamResponse:
    await require_organizer(request)
    session_id = await _session(request)
    path = request.app[BROADCASTER].recordings.file(session_id, request.match_info["rec"])
    if path is None:
        raise not_found("recording")
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp2t",
        "Content-Disposition": f'attachment; filename="{session_id}-{path.name}"',
        "Cache-Control": "private, no-store",
    })


async def delete_recording(request: web.Request) -> web.Response:
    await require_organizer(request)
    session_id = await _session(request)
    try:
        found = request.app[BROADCASTER].recordings.delete(session_id, request.match_info["rec"])
    except RecordingBusy:
        raise Conflict("recording_in_progress",
                       "this recording is still being written; stop it first") from None
    if not found:
        raise not_found("recording")
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/sessions/{id}/destinations", add_session_destination)
    r.add_get("/api/sessions/{id}/destinations", list_session_destinations)
    r.add_delete("/api/sessions/{id}/destinations/{dest}", delete_session_destination)
    r.add_post("/api/destinations", add_event_destination)
    r.add_get("/api/destinations", list_event_destinations)
    r.add_delete("/api/destinations/{dest}", delete_event_destination)
    r.add_get("/api/sessions/{id}/broadcast", broadcast_status)
    r.add_post("/api/sessions/{id}/broadcast", broadcast_action)
    r.add_patch("/api/sessions/{id}/broadcast", broadcast_options)
    r.add_get("/api/sessions/{id}/recordings", list_recordings)
    r.add_get("/api/sessions/{id}/recordings/{rec}", download_recording)
    r.add_delete("/api/sessions/{id}/recordings/{rec}", delete_recording)
