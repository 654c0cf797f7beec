"""GET /api/program and GET /api/sessions/{id}: public, no token needed.

Both are answered from memory (server/public_cache.py), with validators and
cache headers that let nginx or a CDN in front absorb a visitor rush.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

import signaling
from server import stages
from server.api.hls import replays_available
from server.errors import not_found
from server.keys import DB, PROGRAM_CACHE, SHARED
from server.program import program_json
from server.public_cache import Snapshot, respond


async def _snapshot(request: web.Request) -> Snapshot:
    app = request.app

    async def build() -> dict[str, Any]:
        async with app[DB].session() as s:
            data = await program_json(s, await stages.live_sessions(app))
        # How many are watching each session now: from the shared presence, so
        # every process shows the same figure (within the cache's refresh).
        ids = [x["id"] for x in data["sessions"]]
        counts = await app[SHARED].presence_counts(ids)
        replays = await replays_available(app, [x["id"] for x in data["sessions"]
                                                if not x["live"]])
        for x in data["sessions"]:
            x["viewers"] = counts[x["id"]].count
            x["replay"] = x["id"] in replays
        return data

    # This process's own stages: a change here rebuilds at once.
    return await app[PROGRAM_CACHE].get(build, frozenset(signaling.live_sessions(app)))


async def get_program(request: web.Request) -> web.Response:
    snap = await _snapshot(request)
    return respond(request, snap.program, request.app[PROGRAM_CACHE].cache_control)


async def get_session(request: web.Request) -> web.Response:
    snap = await _snapshot(request)
    entry = snap.sessions.get(request.match_info["id"])
    if entry is None:
        raise not_found("session")
    return respond(request, entry, request.app[PROGRAM_CACHE].cache_control)
