"""Which sessions are live, across every node.

Each process says every few seconds which stages it hosts with a speaker on
air (LiveState, Redis when configured); the program reads the union, so a
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
from server.keys import LIVE

log = structlog.get_logger("halqa.stages")
BEAT_S = 2.0
TTL_S = 6.0


async def live_sessions(app: web.Application) -> set[str]:
    # This process's own stages count at once; the others' within a beat.
    return signaling.live_sessions(app) | await app[LIVE].stages_live()


async def beacon(app: web.Application) -> AsyncIterator[None]:
    node = secrets.token_hex(6)

    async def beat() -> None:
        while True:
            try:
                await app[LIVE].stages_set(node, signaling.live_sessions(app), TTL_S)
            except Exception as exc:  # Redis away: say so, keep beating
                log.warning("stage_beacon_failed", error=repr(exc))
            await asyncio.sleep(BEAT_S)

    task = asyncio.create_task(beat())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await app[LIVE].stages_set(node, (), TTL_S)
