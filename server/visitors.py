"""Unique visitors of the site per day, without cookies and without addresses.

A page load is counted under a keyed hash of (client address, User-Agent) whose
key is the day's salt: random, made by the first process that needs it, kept
in the shared short-lived store only until the day (UTC) ends. Once the salt
is gone, nobody (halqa's operators included) can tell whose hash is whose, nor
link one day's visitors to another's; the address itself is never written
anywhere. This is what privacy-first analytics (Plausible, Fathom) do.

Every minute each process copies the day's count into the database
(`site_visitors`), so the figure outlives the salt and the hashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from sqlalchemy import select

from server.api.common import client_ip
from server.keys import DB, SHARED
from server.models_hls import SiteVisitors
from server.shared import SharedState

log = structlog.get_logger("halqa.visitors")
FLUSH_S = 60.0
# Hashes outlive their day by a little, so the last minute's visits are flushed.
KEEP_AFTER_DAY_S = 2 * 3600


def _today(now: dt.datetime | None = None) -> tuple[str, float]:
    """Today's date (UTC) and the seconds until it ends."""
    now = now or dt.datetime.now(dt.UTC)
    end = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return now.date().isoformat(), (end - now).total_seconds()


def digest(salt: str, address: str, user_agent: str) -> str:
    mac = hmac.new(salt.encode(), f"{address}\n{user_agent}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


async def count(shared: SharedState, address: str, user_agent: str) -> None:
    day, left = _today()
    salt = await shared.visitor_salt(day, left)  # the salt dies with the day
    await shared.visitor_add(day, digest(salt, address, user_agent), left + KEEP_AFTER_DAY_S)


async def count_request(request: web.Request) -> None:
    """Count a page load; never fails the page (the figure is best effort)."""
    try:
        await count(request.app[SHARED], client_ip(request),
                    request.headers.get("User-Agent", "")[:300])
    except Exception as exc:  # Redis away: the page still loads
        log.warning("visitor_not_counted", error=repr(exc))


async def flush(app: web.Application) -> None:
    """Copy today's and yesterday's counts from the shared store to the database."""
    today, _ = _today()
    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    for day in (yesterday, today):
        n = await app[SHARED].visitor_count(day)
        if not n:
            continue
        async with app[DB].transaction() as s:
            row = await s.get(SiteVisitors, day)
            if row is None:
                s.add(SiteVisitors(day=day, visitors=n))
            elif n > row.visitors:  # every process writes the same shared count
                row.visitors = n


async def per_day(app: web.Application) -> list[dict[str, object]]:
    """Every day's count, today's straight from the shared store."""
    await flush(app)
    async with app[DB].session() as s:
        rows = (await s.scalars(select(SiteVisitors).order_by(SiteVisitors.day))).all()
        return [{"day": r.day, "visitors": r.visitors} for r in rows]


async def flusher(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await flush(app)
            except Exception as exc:
                log.warning("visitors_flush_failed", error=repr(exc))

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await flush(app)
