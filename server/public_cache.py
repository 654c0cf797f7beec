"""Public, rarely changing answers (the program, one session) served from memory.

A visitor rush (a mailing goes out, a session starts) must not read the
database per page load. Each process keeps the encoded program and each
session's JSON with a strong `ETag` and a `Last-Modified`, and rebuilds them:
- at most once per `refresh_s` (so a change made by another process, e.g.
  `halqa import-schedule` or a moderator opening a session there, or a stage
  going live on another node, shows within `refresh_s` + the stage beacon);
- at once when this process's own set of live stages changes.
Concurrent requests share one rebuild. Answers carry
`Cache-Control: public, max-age=…, stale-while-revalidate=…` so nginx or a CDN
in front absorbs the rush as well, and conditional requests get `304`.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    etag: str  # quoted, strong
    last_modified: float  # epoch seconds, whole


@dataclass(slots=True)
class Snapshot:
    program: Entry
    sessions: dict[str, Entry]
    local_live: frozenset[str]
    built: float = field(default_factory=time.monotonic)


def _entry(data: Any, previous: Entry | None, now: float) -> Entry:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    # Last-Modified moves only when the content did, so If-Modified-Since works.
    if previous is not None and previous.etag == etag:
        return previous
    return Entry(body, etag, float(int(now)))


Build = Callable[[], Awaitable[dict[str, Any]]]


class ProgramCache:
    """The program and its sessions, rebuilt together from one read."""

    def __init__(self, refresh_s: float, max_age_s: int, stale_s: int) -> None:
        self.refresh_s = refresh_s
        self.cache_control = (
            f"public, max-age={max_age_s}, stale-while-revalidate={stale_s}"
        )
        self._snap: Snapshot | None = None
        self._building: asyncio.Future[Snapshot] | None = None
        self.builds = 0  # for tests and /metrics: how often the database was read

    def invalidate(self) -> None:
        self._snap = None

    async def get(self, build: Build, local_live: frozenset[str]) -> Snapshot:
        snap = self._snap
        if (snap is not None and snap.local_live == local_live
                and time.monotonic() - snap.built < self.refresh_s):
            return snap
        if self.refresh_s <= 0:  # caching off: every request reads the database
            self._snap = await self._build(build, local_live)
            return self._snap
        if self._building is None:
            self._building = asyncio.ensure_future(self._build(build, local_live))
            self._building.add_done_callback(self._built)
        # shield: one waiter cancelled (client gone) must not cancel the others'.
        return await asyncio.shield(self._building)

    def _built(self, fut: asyncio.Future[Snapshot]) -> None:
        self._building = None
        if not fut.cancelled() and fut.exception() is None:
            self._snap = fut.result()

    async def _build(self, build: Build, local_live: frozenset[str]) -> Snapshot:
        data = await build()
        now = time.time()
        old = self._snap
        program = _entry(data, old.program if old else None, now)
        sessions = {
            x["id"]: _entry(x, old.sessions.get(x["id"]) if old else None, now)
            for x in data["sessions"]
        }
        self.builds += 1
        return Snapshot(program, sessions, local_live)


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): a proxy that compressed the body
    # turns our strong tag into W/"…", and that still names the same content.
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def respond(request: web.Request, entry: Entry, cache_control: str) -> web.Response:
    headers = {
        "ETag": entry.etag,
        "Last-Modified": email.utils.formatdate(entry.last_modified, usegmt=True),
        "Cache-Control": cache_control,
    }
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        if _etag_matches(inm, entry.etag):
            return web.Response(status=304, headers=headers)
    else:
        ims = request.if_modified_since
        if ims is not None and ims.timestamp() >= entry.last_modified:
            return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, content_type="application/json",
                        charset="utf-8", headers=headers)
